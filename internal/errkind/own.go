package errkind

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Prefix starts the message of every error apiauth makes.
const Prefix = "apiauth: "

var (
	ownMu    sync.RWMutex
	ownTypes []func(error) bool
)

// Register adds a predicate that tells an error type of apiauth's own (the
// root package's *Error, say) from others. Packages call it from init.
func Register(is func(error) bool) {
	ownMu.Lock()
	ownTypes = append(ownTypes, is)
	ownMu.Unlock()
}

// Own reports whether err itself (not an error it wraps) was made by
// apiauth: a Kind, an error from [Errorf] or [New], or a registered type.
// It decides by type, never by message.
func Own(err error) bool {
	switch err.(type) {
	case nil:
		return false
	case *Kind, *ownError, *bareError:
		return true
	}
	ownMu.RLock()
	defer ownMu.RUnlock()
	for _, is := range ownTypes {
		if is(err) {
			return true
		}
	}
	return false
}

// ownError is an error apiauth made with Errorf or New.
type ownError struct{ err error }

func (e *ownError) Error() string { return e.err.Error() }

// Unwrap returns what the fmt.Errorf inside wraps, one error or several.
func (e *ownError) Unwrap() []error {
	switch u := e.err.(type) {
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			return []error{w}
		}
	}
	return nil
}

// bareError shows an error of apiauth's own without its "apiauth: " prefix,
// inside the message of another that already starts with it; errors.Is and
// errors.As see the error itself.
type bareError struct{ err error }

func (e *bareError) Error() string { return strings.TrimPrefix(e.err.Error(), Prefix) }
func (e *bareError) Unwrap() error { return e.err }

// Bare returns err for use as an operand inside a message that already
// starts with "apiauth: ": without its own prefix if it is apiauth's, as it
// is otherwise.
func Bare(err error) error {
	if Own(err) {
		return &bareError{err}
	}
	return err
}

// Errorf is fmt.Errorf for apiauth's messages, which start with
// "apiauth: ": an error operand of apiauth's own loses that prefix in the
// message (errors.Is and errors.As still reach it), so that a chain of
// wrapped errors reads "apiauth: attach credential: token refresh failed
// …: 400 Bad Request", prefixed once. The result is apiauth's own.
func Errorf(format string, a ...any) error {
	for i, v := range a {
		if err, ok := v.(error); ok {
			a[i] = Bare(err)
		}
	}
	return &ownError{fmt.Errorf(format, a...)}
}

// New is errors.New for apiauth's messages; the result is apiauth's own.
func New(msg string) error { return &ownError{errors.New(msg)} }
