// Package statedir tells where a command keeps its state: the directory
// of its stores when the configuration names none (Default), and whether
// the process may create files in a directory, or create the directory,
// without creating anything to find out.
//
// Every command that keeps state follows one rule: what the
// configuration or a flag names is used as it is, and never replaced;
// the default is System when the process can keep files there (root, or
// a member of its group), else the user's state directory of the XDG
// Base Directory Specification, $XDG_STATE_HOME/mtasts or
// ~/.local/state/mtasts, which the command says once on standard error.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Exists tells whether dir exists and is a directory; the error of a
// missing one names it, so that a mistyped path is easy to see.
func Exists(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist (create it first, or name a file in another)", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Writable tells whether dir is a directory in which the process may
// create files.
func Writable(dir string) error {
	if err := Exists(dir); err != nil {
		return err
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", dir, err)
	}
	return nil
}

// Creatable tells whether the process can keep files in dir: dir is
// Writable, or does not exist and its nearest existing parent is, so
// that os.MkdirAll would create it.
func Creatable(dir string) error {
	dir = filepath.Clean(dir)
	for {
		_, err := os.Stat(dir)
		parent := filepath.Dir(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || parent == dir {
			return Writable(dir)
		}
		dir = parent
	}
}

// System is the state directory of the services as packaged.
const System = "/var/lib/mtasts"

// Default returns the directory where a command keeps its state when its
// configuration names none: system (System, or a test's) if the process
// can keep files there (see Creatable), else $XDG_STATE_HOME/mtasts (an
// absolute XDG_STATE_HOME only, as the specification says), else
// ~/.local/state/mtasts. When it is not system, note says which and why,
// for the program to say once; without a home directory it is system
// anyway, for the open to fail with its own error. Nothing is created.
func Default(system string, getenv func(string) string) (dir, note string) {
	err := Creatable(system)
	if err == nil {
		return system, ""
	}
	switch xdg, home := getenv("XDG_STATE_HOME"), getenv("HOME"); {
	case filepath.IsAbs(xdg):
		dir = filepath.Join(xdg, "mtasts")
	case filepath.IsAbs(home):
		dir = filepath.Join(home, ".local", "state", "mtasts")
	default:
		return system, ""
	}
	return dir, fmt.Sprintf("keeping state in %s: %v (name another place in the configuration, or with a flag, to silence this)", dir, err)
}
