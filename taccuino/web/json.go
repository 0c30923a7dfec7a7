package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"fsecgm/taccuino/jsonscan"

	"github.com/labstack/echo/v5"
)

// Limits of DecodeJSON.
const (
	// MaxJSONBytes is the largest JSON request body accepted.
	MaxJSONBytes = 64 << 10
	// MaxJSONDepth is the deepest nesting of arrays and objects accepted.
	MaxJSONDepth = 16
)

// DecodeJSON reads the request's JSON body into v, cheaply refusing what
// it should not parse: a Content-Type other than application/json (415), a
// body over MaxJSONBytes (413, read no further), nesting deeper than
// MaxJSONDepth and an object that names a member twice (400, found by one
// byte scan before decoding, package jsonscan; names are compared after
// unescaping and regardless of case, as encoding/json matches them to
// struct fields; Field is the repeated member's JSON pointer). Syntax
// errors are 400 with the byte offset; unknown members and members of the
// wrong type are 422 naming the member as a JSON pointer; trailing data is
// 400.
func DecodeJSON(c *echo.Context, v any) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedType, "the body must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxJSONBytes+1))
	if err != nil {
		if echo.StatusCode(err) == http.StatusRequestEntityTooLarge {
			return AsError(err)
		}
		return BadRequest("", "the body could not be read").Wrap(err)
	}
	if len(body) > MaxJSONBytes {
		return NewError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("the JSON body is larger than %d bytes", MaxJSONBytes))
	}
	if err := jsonscan.Scan(body, jsonscan.Options{MaxDepth: MaxJSONDepth, Fold: true}); err != nil {
		var se *jsonscan.Error
		if errors.As(err, &se) && se.Duplicate() {
			return BadRequest(se.Pointer, "the JSON body names the member "+se.Pointer+" more than once")
		}
		return BadRequest("", fmt.Sprintf("the JSON body is nested deeper than %d levels", MaxJSONDepth))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return BadRequest("", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("", "the body holds more than one JSON value")
	}
	return nil
}

// jsonError maps a decoding error to a 400 or 422 Error.
func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return BadRequest("", fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.Is(err, io.EOF):
		return BadRequest("", "the body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("", "the JSON body ends too early")
	case errors.As(err, &typ):
		field := "/" + strings.ReplaceAll(typ.Field, ".", "/")
		return Invalid(field, fmt.Sprintf("%s must be a JSON %s", field, typ.Type.Kind()))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field := "/" + strings.Trim(name, `"`)
		return Invalid(field, "unknown member "+field)
	}
	return Invalid("", "the JSON body does not have the expected form").Wrap(err)
}
