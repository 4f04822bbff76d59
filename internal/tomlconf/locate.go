package tomlconf

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// locator finds the lines of tables and keys in a TOML file, for error
// messages (the decoder keeps no positions of decoded keys). It knows the
// layout of a configuration file: table headers, "key = value" lines and
// arrays of tables, whose i-th table is named with i as a key part
// ("domain.2.mode").
type locator struct {
	lines map[string]int // toml.Key.String() of a key or table → line
}

func newLocator(data []byte) *locator {
	l := &locator{lines: map[string]int{}}
	var table toml.Key
	counts := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		n++
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "[["):
			name, rest, ok := parseKey(line[2:])
			if !ok || !strings.HasPrefix(rest, "]]") {
				continue
			}
			i := counts[name.String()]
			counts[name.String()]++
			table = append(name, strconv.Itoa(i))
			l.set(table, n)
		case strings.HasPrefix(line, "["):
			name, rest, ok := parseKey(line[1:])
			if !ok || !strings.HasPrefix(rest, "]") {
				continue
			}
			table = name
			l.set(table, n)
		default:
			key, rest, ok := parseKey(line)
			if ok && strings.HasPrefix(rest, "=") {
				l.set(append(table[:len(table):len(table)], key...), n)
			}
		}
	}
	return l
}

func (l *locator) set(key toml.Key, line int) {
	if _, ok := l.lines[key.String()]; !ok {
		l.lines[key.String()] = line
	}
}

// parseKey reads a dotted TOML key (bare, "basic" or 'literal' parts)
// at the start of s and returns it and the rest of s after it and any
// white space.
func parseKey(s string) (key toml.Key, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case strings.HasPrefix(s, `"`):
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			p, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, "", false
			}
			part, s = p, s[end+1:]
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
			})
			if end < 0 {
				end = len(s)
			}
			if end == 0 {
				return nil, "", false
			}
			part, s = s[:end], s[end:]
		}
		key = append(key, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return key, s, true
		}
		s = s[1:]
	}
}

// line returns the line of a key, or of the nearest table holding it that
// is written in the file, or 0.
func (l *locator) line(key toml.Key) int {
	for ; len(key) > 0; key = key[:len(key)-1] {
		if n, ok := l.lines[key.String()]; ok {
			return n
		}
	}
	return 0
}

// decodedLine returns the line of a key as the decoder names it, or 0.
// Keys in arrays of tables do not say which table they are in (no index
// part); the first table that has the key is taken.
func (l *locator) decodedLine(k toml.Key) int {
	if n, ok := l.lines[k.String()]; ok {
		return n
	}
	for i := 1; i < len(k); i++ {
		for j := 0; ; j++ {
			table := append(k[:i:i], strconv.Itoa(j))
			if _, ok := l.lines[table.String()]; !ok {
				break
			}
			if n, ok := l.lines[append(table, k[i:]...).String()]; ok {
				return n
			}
		}
	}
	return 0
}
