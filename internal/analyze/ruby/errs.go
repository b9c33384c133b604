package ruby

import (
	"errors"
	"fmt"
	"strings"
)

// maxErrors bounds the problems one file's error lists: a large file of
// garbage would otherwise make an error as large as itself.
const maxErrors = 10

// errList collects a file's per-entry problems, keeping the first few
// and counting the rest.
type errList struct {
	msgs []string
	more int
}

func (e *errList) add(format string, args ...any) {
	if len(e.msgs) < maxErrors {
		e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
	} else {
		e.more++
	}
}

// err returns the problems as one error starting with prefix, or nil.
func (e *errList) err(prefix string) error {
	if len(e.msgs) == 0 {
		return nil
	}
	s := strings.Join(e.msgs, "; ")
	if e.more > 0 {
		s += fmt.Sprintf("; and %d more", e.more)
	}
	return errors.New(prefix + ": " + s)
}
