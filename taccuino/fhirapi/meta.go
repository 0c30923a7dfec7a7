package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// member is one member of a JSON object, in order.
type member struct {
	key string
	val json.RawMessage
}

// errMalformed is objectMembers' refusal.
var errMalformed = errors.New("malformed JSON object")

// objectMembers reads a JSON object's members in order. It finds them by
// a byte scan (strings and nesting) instead of decoding them: every
// resource the API serves passes here, and a json.Decoder took a third of
// a search's time. The scan checks the object's structure, not every
// value's grammar: the bodies it reads are valid JSON (PostgreSQL's json
// type checks them on input, and json.Valid is checked for a read).
func objectMembers(b []byte) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	var out []member
	for {
		if i >= len(b) {
			return nil, errMalformed
		}
		if b[i] == '}' && len(out) == 0 {
			i++
			break
		}
		// A member: "key" : value, then , or }.
		if b[i] != '"' {
			return nil, errMalformed
		}
		end := skipString(b, i)
		if end < 0 {
			return nil, errMalformed
		}
		key := string(b[i+1 : end-1])
		if bytes.IndexByte(b[i:end], '\\') >= 0 {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return nil, err
			}
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil, errMalformed
		}
		i = skipSpace(b, i+1)
		if end = skipValue(b, i); end < 0 {
			return nil, errMalformed
		}
		out = append(out, member{key, json.RawMessage(b[i:end])})
		if i = skipSpace(b, end); i >= len(b) {
			return nil, errMalformed
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return nil, errMalformed
		}
		if i = skipSpace(b, i+1); i >= len(b) || b[i] != '"' {
			return nil, errMalformed
		}
	}
	if skipSpace(b, i) != len(b) {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// skipSpace returns the index of the first byte of b from i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string that starts at
// b[i] (a quote); -1 when it does not end.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value that starts at
// b[i]: a string, an object or array (brackets balanced outside strings),
// or a literal up to the next delimiter; -1 when there is none.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		var stack []byte
		for ; i < len(b); i++ {
			switch c := b[i]; c {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				stack = append(stack, c+2) // '}' is '{'+2, ']' is '['+2
			case '}', ']':
				if len(stack) == 0 || stack[len(stack)-1] != c {
					return -1
				}
				if stack = stack[:len(stack)-1]; len(stack) == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1
}

// writeObject writes members as a JSON object.
func writeObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// set replaces key's value in ms, or inserts it after the member named
// after (or at the end).
func set(ms []member, key string, val json.RawMessage, after string) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].val = val
			return ms
		}
	}
	for i := range ms {
		if ms[i].key == after {
			ms = append(ms[:i+1], append([]member{{key, val}}, ms[i+1:]...)...)
			return ms
		}
	}
	return append(ms, member{key, val})
}

// withMeta returns a stored resource as the API serves it: its id
// replaced by the API's id, and meta.versionId and meta.lastUpdated set
// (the other members, meta.profile included, as stored, in their order).
func withMeta(body []byte, id string, version int, updated time.Time) ([]byte, error) {
	ms, err := objectMembers(body)
	if err != nil {
		return nil, fmt.Errorf("fhirapi: stored resource: %w", err)
	}
	idJSON, _ := json.Marshal(id)
	ms = set(ms, "id", idJSON, "resourceType")
	var meta []member
	for _, m := range ms {
		if m.key == "meta" {
			if meta, err = objectMembers(m.val); err != nil {
				return nil, fmt.Errorf("fhirapi: stored resource meta: %w", err)
			}
		}
	}
	ver, _ := json.Marshal(strconv.Itoa(version))
	upd, _ := json.Marshal(updated.UTC().Format(time.RFC3339Nano))
	meta = set(meta, "versionId", ver, "")
	meta = set(meta, "lastUpdated", upd, "versionId")
	ms = set(ms, "meta", writeObject(meta), "id")
	return compact(writeObject(ms))
}

// compact returns b without whitespace outside strings, as json.Marshal
// writes JSON. A body written by fsecgm has none and is returned as it is,
// after a byte scan; one received with spaces or new lines is compacted
// (json.Compact, which also validates it).
func compact(b []byte) ([]byte, error) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			if i = skipString(b, i); i < 0 {
				return nil, errMalformed
			}
			i--
		case ' ', '\t', '\n', '\r':
			var out bytes.Buffer
			if err := json.Compact(&out, b); err != nil {
				return nil, fmt.Errorf("fhirapi: stored resource: %w", err)
			}
			return out.Bytes(), nil
		}
	}
	return b, nil
}
