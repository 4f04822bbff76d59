package serveconfig

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// locator finds the lines of tables and keys in a TOML file, for error
// messages (the decoder keeps no positions of decoded keys). It knows the
// simple layout this file uses: table headers and "key = value" lines.
type locator struct {
	lines map[string]int // "serve.acme.email", "domain.2.mode", "domain.2" → line
}

var (
	arrayHeader = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]`)
	tableHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]`)
	keyLine     = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=`)
)

func newLocator(data []byte) *locator {
	l := &locator{lines: map[string]int{}}
	table := ""
	counts := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		n++
		if m := arrayHeader.FindStringSubmatch(line); m != nil {
			name := m[1]
			table = name + "." + strconv.Itoa(counts[name])
			counts[name]++
			l.set(table, n)
			continue
		}
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			table = m[1]
			l.set(table, n)
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			key := strings.Join(strings.Fields(strings.ReplaceAll(m[1], ".", " ")), ".")
			if table != "" {
				key = table + "." + key
			}
			l.set(key, n)
		}
	}
	return l
}

func (l *locator) set(key string, line int) {
	if _, ok := l.lines[key]; !ok {
		l.lines[key] = line
	}
}

// domainLine returns the line of key in the i-th [[domain]] table, or of
// the table header if the key is not written there.
func (l *locator) domainLine(i int, key string) int {
	table := "domain." + strconv.Itoa(i)
	if n, ok := l.lines[table+"."+key]; ok {
		return n
	}
	return l.lines[table]
}

// settingLine returns the line of a setting such as
// "serve.reports.smtp_cert_file", or of the nearest table holding it that
// is written in the file, or 0.
func (l *locator) settingLine(key string) int {
	for key != "" {
		if n, ok := l.lines[key]; ok {
			return n
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// keyLine returns the line of a decoded key (as toml.MetaData names it),
// or 0. Keys of [[domain]] tables do not say which table they are in; the
// first occurrence is given.
func (l *locator) keyLine(k toml.Key) int {
	if n, ok := l.lines[k.String()]; ok {
		return n
	}
	if len(k) > 1 && k[0] == "domain" {
		for i := 0; ; i++ {
			table := "domain." + strconv.Itoa(i)
			if _, ok := l.lines[table]; !ok {
				return 0
			}
			if n, ok := l.lines[table+"."+strings.Join(k[1:], ".")]; ok {
				return n
			}
		}
	}
	return 0
}
