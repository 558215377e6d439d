// Command dockerignore says which paths Docker leaves out of a build context.
//
// Usage: dockerignore CONTEXT_DIR < paths
//
// It reads CONTEXT_DIR/.dockerignore and, for each path on stdin (one per line, relative to
// the context), prints "1" when the path stays out of the context and "0" when it goes in.
// The rules are read and matched by the library the docker CLI itself uses
// (github.com/moby/patternmatcher: ignorefile.ReadAll, then MatchesOrParentMatches on the
// cleaned path, as the CLI's build context code does), so no matcher is re-implemented here.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerignore CONTEXT_DIR < paths")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dockerignore:", err)
		os.Exit(1)
	}
}

func run(contextDir string) error {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if err != nil {
		return err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return err
	}
	matcher, err := patternmatcher.New(patterns)
	if err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		path := filepath.Clean(in.Text())
		// The CLI never excludes the context root itself.
		excluded := false
		if path != "." {
			if excluded, err = matcher.MatchesOrParentMatches(path); err != nil {
				return err
			}
		}
		if excluded {
			fmt.Fprintln(out, "1")
		} else {
			fmt.Fprintln(out, "0")
		}
	}
	return in.Err()
}
