// Package tomlconf reads the sections of mtasts.toml, the one
// configuration file of every mtasts service, in one way: each service
// decodes its own sections (with github.com/BurntSushi/toml) and leaves
// the others alone; a key of its sections that it does not know, and a
// value it cannot take, is an error naming the file, the line and the key
// with its section ("mtasts.toml:12: daemon.listen: ..."); relative paths
// are taken from the file's directory.
//
// It knows no service: the services say which sections they read by the
// fields of the struct they decode into, and report the problems they
// find in values as *SettingError, which Locate places in the file.
package tomlconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrUnknownSetting is wrapped by the errors for keys that the service
// reading a section does not know.
var ErrUnknownSetting = errors.New("unknown setting")

// SettingError is a problem with the value of one setting. Key names it
// with its section, in TOML's dotted form ("daemon.listen",
// `daemon.zones."example.com".on_dns_failure`), so that Locate finds its
// line.
type SettingError struct {
	Key string
	Err error
}

func (e *SettingError) Error() string {
	if e.Err == ErrUnknownSetting {
		return fmt.Sprintf("unknown setting %q", e.Key)
	}
	return e.Key + ": " + e.Err.Error()
}

func (e *SettingError) Unwrap() error { return e.Err }

// SettingKey returns Key, for Locate.
func (e *SettingError) SettingKey() string { return e.Key }

// keyed is an error about one setting, which it names in the form of
// SettingError.Key: a *SettingError, or a service's own error type.
type keyed interface {
	error
	SettingKey() string
}

// Setting returns a *SettingError for the key made of parts (a section,
// tables, a key): Setting(err, "daemon", "zones", name, "on_dns_failure").
func Setting(err error, parts ...string) *SettingError {
	return &SettingError{Key: toml.Key(parts).String(), Err: err}
}

// Error is a problem located in a file: "FILE:LINE: problem", or
// "FILE: problem" when the line is not known.
type Error struct {
	File string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// File is a configuration file read into memory.
type File struct {
	// Name names the file in messages; relative paths in it are taken
	// from its directory.
	Name string
	data []byte
	loc  *locator
	meta *toml.MetaData // of the last Decode
}

// Read reads the file at path.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return New(path, data), nil
}

// New returns the file named name holding data.
func New(name string, data []byte) *File {
	return &File{Name: name, data: data}
}

// Resolve returns p taken from the file's directory if it is a relative
// path, else p; "" stays "".
func (f *File) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.Name), p)
}

// ResolveSQLite returns the store URL rawURL with the file of a
// "sqlite:relative/path" URL taken from the file's directory, as Resolve
// does; other URLs stay as they are.
func (f *File) ResolveSQLite(rawURL string) string {
	if p, ok := strings.CutPrefix(rawURL, "sqlite:"); ok && p != "" && !strings.HasPrefix(p, "/") {
		return "sqlite:" + filepath.ToSlash(f.Resolve(p))
	}
	return rawURL
}

// Defined reports whether the file sets the key named by parts (such as
// "serve", "data_dir"), as found by the last Decode: a setting left to
// its default is not defined.
func (f *File) Defined(parts ...string) bool {
	return f.meta != nil && f.meta.IsDefined(parts...)
}

// Decode decodes the sections that v, a pointer to a struct, has fields
// for (named by their toml tags) and leaves the other sections of the
// file alone. A syntax error anywhere in the file, or a value of the
// wrong type in v's sections, is returned at once as an *Error. Keys of
// v's sections that v does not know are returned together, each an
// *Error wrapping ErrUnknownSetting, once v is decoded in full: an error
// for which errors.Is(err, ErrUnknownSetting) holds leaves v complete.
func (f *File) Decode(v any) error {
	// Syntax first, so that a later error is about a value.
	if _, err := toml.Decode(string(f.data), &struct{}{}); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{File: f.Name, Line: pe.Position.Line, Err: errors.New(pe.Message)}
		}
		return &Error{File: f.Name, Err: err}
	}
	md, err := toml.Decode(string(f.data), v)
	if err != nil {
		return f.valueError(err)
	}
	f.meta = &md
	if err := f.checkMaps(&md, nil, reflect.TypeOf(v)); err != nil {
		return err
	}
	sections := map[string]bool{}
	for _, field := range reflect.VisibleFields(reflect.TypeOf(v).Elem()) {
		name, _, _ := strings.Cut(field.Tag.Get("toml"), ",")
		sections[name] = true
	}
	var errs []error
	reported := map[string]bool{}
	for _, k := range md.Undecoded() {
		if !sections[k[0]] {
			continue // another service's
		}
		if reported[k[:len(k)-1].String()] {
			reported[k.String()] = true // in an unknown table, reported
			continue
		}
		reported[k.String()] = true
		errs = append(errs, &Error{File: f.Name, Line: f.locator().decodedLine(k),
			Err: &SettingError{Key: k.String(), Err: ErrUnknownSetting}})
	}
	return errors.Join(errs...)
}

// lastKey matches the errors of the decoder that are not a
// toml.ParseError: "toml: line 3 (last key "daemon.maps"): incompatible
// types: ...".
var lastKey = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// valueError turns an error of the decoder about a value into an *Error
// naming the key.
func (f *File) valueError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) && pe.LastKey != "" {
		return &Error{File: f.Name, Line: pe.Position.Line, Err: &SettingError{Key: pe.LastKey, Err: errors.New(pe.Message)}}
	}
	if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		key, _ := strconv.Unquote(m[2])
		return &Error{File: f.Name, Line: line, Err: &SettingError{Key: key, Err: errors.New(typeMessage(m[3]))}}
	}
	return &Error{File: f.Name, Err: err}
}

// checkMaps reports a value that is not a table where t (a struct, or a
// pointer to one, decoded from the table key) has a map, in t and the
// structs in it: the decoder leaves such a map empty without a word.
func (f *File) checkMaps(md *toml.MetaData, key toml.Key, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for _, field := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(field.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !field.IsExported() {
			continue
		}
		k := append(key[:len(key):len(key)], name)
		ft := field.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if typ := md.Type(k...); ft.Kind() == reflect.Map && typ != "" && typ != "Hash" {
			return &Error{File: f.Name, Line: f.locator().decodedLine(k),
				Err: &SettingError{Key: k.String(), Err: fmt.Errorf("want a table, not %s", typeNames[typ])}}
		}
		if err := f.checkMaps(md, k, ft); err != nil {
			return err
		}
	}
	return nil
}

// badType and notTable match the decoder's messages for a value of the
// wrong type.
var (
	badType  = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	notTable = regexp.MustCompile(`^type mismatch for .+: expected table but found (.+)$`)
)

// typeNames are the TOML names of the types in badType's messages (Go's
// names of the decoded value, the decoder's of the destination) and of
// toml.MetaData.Type.
var typeNames = map[string]string{
	"string": "a string", "int64": "an integer", "integer": "an integer", "float64": "a float", "float": "a float",
	"bool": "a boolean", "boolean": "a boolean", "[]interface {}": "an array", "slice": "an array", "array": "an array",
	"map[string]interface {}": "a table", "[]map[string]interface {}": "an array of tables", "time.Time": "a date",
	// toml.MetaData.Type
	"String": "a string", "Integer": "an integer", "Float": "a float", "Bool": "a boolean", "Array": "an array",
	"ArrayHash": "an array of tables", "Datetime": "a date",
}

// typeMessage says what a value of the wrong type is and what is wanted,
// in TOML's words: "want an array, not a string".
func typeMessage(msg string) string {
	m := badType.FindStringSubmatch(msg)
	if m == nil {
		if m = notTable.FindStringSubmatch(msg); m != nil {
			m = append(m, "map[string]interface {}")
		}
	}
	if m == nil || typeNames[m[1]] == "" || typeNames[m[2]] == "" {
		return msg
	}
	return "want " + typeNames[m[2]] + ", not " + typeNames[m[1]]
}

// Locate returns err placed in the file: each error joined in it (see
// errors.Join) becomes an *Error, with the line of the setting that the
// error names if it wraps a *SettingError, or any error with a method
// SettingKey() string giving a key in the same form (else the line of the
// nearest table holding that key that the file writes). Errors that are
// already *Error are kept.
func (f *File) Locate(err error) error {
	if err == nil {
		return nil
	}
	parts := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	}
	out := make([]error, 0, len(parts))
	for _, e := range parts {
		var located *Error
		var se keyed
		switch {
		case errors.As(e, &located):
			out = append(out, e)
		case errors.As(e, &se):
			key, _, _ := parseKey(se.SettingKey())
			out = append(out, &Error{File: f.Name, Line: f.locator().line(key), Err: e})
		default:
			out = append(out, &Error{File: f.Name, Err: e})
		}
	}
	return errors.Join(out...)
}

// Line returns the line of a key (parts as in Setting), or of the nearest
// table holding it that the file writes, or 0. The i-th table of an
// array of tables is named with strconv.Itoa(i) as a part: Line("domain",
// "2", "mode").
func (f *File) Line(parts ...string) int {
	return f.locator().line(toml.Key(parts))
}

// locator returns the line index of the file, made on first use.
func (f *File) locator() *locator {
	if f.loc == nil {
		f.loc = newLocator(f.data)
	}
	return f.loc
}
