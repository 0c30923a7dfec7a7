// Package jsonscan checks a JSON text in one pass over its bytes before it
// is decoded: how deeply it nests, and whether an object repeats a member
// name. It is the cheap first look that every JSON body of fsecgm gets (the
// API's bodies in taccuino/web, the FHIR API's in taccuino/fhir and
// taccuino/fhirapi), so that hostile bodies are refused before a decoder
// spends anything on them.
//
// Why duplicate names are refused: RFC 8259 §4 says the names within an
// object SHOULD be unique and that, when they are not, "the behavior of
// software that receives such an object is unpredictable"; Go's
// encoding/json keeps the last value, other parsers keep the first. A body
// that a proxy, a validator or a log reads one way and fsecgm another is a
// way to smuggle a value past the first (RFC 7493, I-JSON, §2.3 makes
// unique names a MUST). Names are compared after unescaping ("a" and
// "\u0061" are the same name) and, with [Options.Fold], also when they
// differ in case only, because encoding/json matches struct fields without
// regard to case.
//
// Scan does not validate the JSON: it finds structure (strings, brackets,
// colons and commas) and leaves everything else to the decoder that runs
// after it. On malformed input it still terminates and reports what it
// found up to there.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Options configure Scan.
type Options struct {
	// MaxDepth is the deepest nesting of objects and arrays accepted; 0
	// means no limit.
	MaxDepth int
	// Fold makes names that differ only in case duplicates too (for bodies
	// decoded into Go structs by encoding/json, which matches field names
	// case-insensitively).
	Fold bool
}

// Error is a refusal of Scan.
type Error struct {
	// Depth is set when the text nests deeper than Options.MaxDepth.
	Depth int
	// Pointer is the JSON pointer (RFC 6901) of a repeated member, as the
	// second occurrence is written (its name unescaped): "/entry/3/resource/code".
	Pointer string
}

// Error returns "duplicate member <pointer>" or "nested deeper than <n> levels".
func (e *Error) Error() string {
	if e.Pointer != "" {
		return "duplicate member " + e.Pointer
	}
	return "nested deeper than " + strconv.Itoa(e.Depth) + " levels"
}

// Duplicate reports whether e is a repeated member (else a depth refusal).
func (e *Error) Duplicate() bool { return e.Pointer != "" }

// Depth returns the deepest nesting of arrays and objects in b, ignoring
// brackets inside strings (no other check).
func Depth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, ch := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		switch ch {
		case '"':
			inString = true
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// mapAbove is the number of names in one object above which names are
// also kept in a map (below it a linear search of a few short slices is
// cheaper than hashing).
const mapAbove = 24

// frame is an open object or array.
type frame struct {
	obj       bool
	expectKey bool
	index     int    // the element's index, in an array
	key       []byte // the current member's raw name (escaped), in an object
	names     [][]byte
	set       map[string]struct{}
}

// Scan checks b in one pass: nesting within opts.MaxDepth and no object
// with a repeated member name. It returns nil or an *Error. It allocates
// nothing for bodies whose objects have at most 24 members and names
// without escapes, besides a stack of one frame per level of nesting.
func Scan(b []byte, opts Options) error {
	var s scanner
	return s.scan(b, opts)
}

type scanner struct {
	stack []frame
	depth int
}

func (s *scanner) scan(b []byte, opts Options) error {
	for i := 0; i < len(b); i++ {
		switch ch := b[i]; ch {
		case '"':
			end := stringEnd(b, i+1)
			if end == len(b) {
				return nil // an unclosed string: the decoder says so
			}
			if s.depth > 0 {
				f := &s.stack[s.depth-1]
				if f.obj && f.expectKey {
					raw := b[i+1 : end]
					if dup := f.add(raw, opts.Fold); dup {
						return &Error{Pointer: s.pointer(raw)}
					}
					f.key, f.expectKey = raw, false
				}
			}
			i = end
		case '{', '[':
			s.depth++
			if opts.MaxDepth > 0 && s.depth > opts.MaxDepth {
				return &Error{Depth: opts.MaxDepth}
			}
			if s.depth > len(s.stack) {
				s.stack = append(s.stack, frame{})
			}
			f := &s.stack[s.depth-1]
			f.obj, f.expectKey, f.index, f.key = ch == '{', ch == '{', 0, nil
			f.names = f.names[:0]
			if f.set != nil {
				clear(f.set)
			}
		case '}', ']':
			if s.depth > 0 {
				s.depth--
			}
		case ',':
			if s.depth > 0 {
				f := &s.stack[s.depth-1]
				if f.obj {
					f.expectKey = true
				} else {
					f.index++
				}
			}
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the string whose
// content starts at i (len(b) when it is not closed).
func stringEnd(b []byte, i int) int {
	for i < len(b) {
		k := bytes.IndexAny(b[i:], `"\`)
		if k < 0 {
			return len(b)
		}
		i += k
		if b[i] == '"' {
			return i
		}
		i += 2 // a backslash and the character it escapes
	}
	return len(b)
}

// add records a member name of the object; it reports whether the object
// already had it.
func (f *frame) add(raw []byte, fold bool) bool {
	name := raw
	if needsDecoding(raw) {
		name = []byte(unescape(raw))
	}
	if fold {
		name = foldKey(name)
	}
	if f.set != nil {
		if _, dup := f.set[string(name)]; dup {
			return true
		}
		f.set[string(name)] = struct{}{}
		return false
	}
	for _, n := range f.names {
		if bytes.Equal(n, name) {
			return true
		}
	}
	f.names = append(f.names, name)
	if len(f.names) > mapAbove {
		f.set = make(map[string]struct{}, 2*len(f.names))
		for _, n := range f.names {
			f.set[string(n)] = struct{}{}
		}
	}
	return false
}

// unescape returns the value of a JSON string's raw content; content that
// is not valid JSON is returned as it is (the decoder refuses it later).
func unescape(raw []byte) string {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return string(raw)
	}
	return s
}

// foldKey returns a case-folded form of name in which two names are equal
// when Unicode simple case folding makes them equal (as bytes.EqualFold
// and encoding/json's field matching do): each rune is replaced by the
// smallest rune of its folding orbit.
func foldKey(name []byte) []byte {
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	out := make([]byte, 0, len(name))
	if ascii {
		for _, c := range name {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
		}
		return out
	}
	for _, r := range string(name) {
		out = utf8.AppendRune(out, foldRune(r))
	}
	return out
}

// foldRune returns the canonical rune of r's simple folding orbit: the
// lower-case ASCII letter for orbits holding one (so that the ASCII path
// of foldKey agrees), else the smallest rune of the orbit.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= 'a' && f <= 'z' {
			return f
		}
		if f < least {
			least = f
		}
	}
	if r >= 'a' && r <= 'z' {
		return r
	}
	return least
}

// pointer returns the JSON pointer of member raw of the innermost open
// object.
func (s *scanner) pointer(raw []byte) string {
	var b strings.Builder
	for i := 0; i < s.depth-1; i++ {
		f := &s.stack[i]
		b.WriteByte('/')
		if f.obj {
			b.WriteString(escapePointer(nameOf(f.key)))
		} else {
			b.WriteString(strconv.Itoa(f.index))
		}
	}
	b.WriteByte('/')
	b.WriteString(escapePointer(nameOf(raw)))
	return b.String()
}

func nameOf(raw []byte) string {
	if needsDecoding(raw) {
		return unescape(raw)
	}
	return string(raw)
}

// needsDecoding reports whether a string's raw content differs from its
// value: escapes, or bytes that are not UTF-8 (which decoders read as
// U+FFFD, each byte, so that two different such names are one).
func needsDecoding(raw []byte) bool {
	return bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)
}

// escapePointer escapes a reference token of a JSON pointer (RFC 6901 §3:
// "~" as "~0", "/" as "~1").
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
