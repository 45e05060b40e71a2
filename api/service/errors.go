package service

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errCode pairs an error a package returns (a sentinel, tested with errors.Is) with the
// code the API answers it with, and a hint added to its text ("": none).
type errCode struct {
	err  error
	code codes.Code
	hint string
}

// contextCodes answer a context's end with the context's code, as status.FromContextError.
var contextCodes = []errCode{{context.DeadlineExceeded, codes.DeadlineExceeded, ""}, {context.Canceled, codes.Canceled, ""}}

// statusOf is how every service answers an error: nil as nil; an error that already
// carries a status unchanged; one that is (errors.Is) the error of an entry of table,
// the first such, with the entry's code and err's text and the entry's hint; a
// context's end (the caller gone, its deadline passed) with the context's code; anything
// else as fallback answers it.
func statusOf(err error, table []errCode, fallback func(error) error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, c := range slices.Concat(table, contextCodes) {
		if errors.Is(err, c.err) {
			return status.Error(c.code, err.Error()+c.hint)
		}
	}
	return fallback(err)
}

// internal answers an error no table knows as codes.Internal with its text.
func internal(err error) error { return status.Error(codes.Internal, err.Error()) }
