package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decodeMembers is objectMembers as a json.Decoder reads it: the reference
// the byte scan is checked against.
func decodeMembers(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{t.(string), v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return out, nil
}

// igExamples returns the HL7 CGM IG's example resources kept in the repo.
func igExamples(tb testing.TB) [][]byte {
	tb.Helper()
	files, err := filepath.Glob("../fhir/testdata/ig-examples/*.json")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no IG examples: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// sameMembers fails unless objectMembers and the decoder agree on b when b
// is valid JSON: the same keys and values (compacted: the decoder drops
// nothing else), or both refuse it. On other input objectMembers must only
// not panic (its caller validates what it writes), and must refuse what
// is not even an object's structure.
func sameMembers(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := objectMembers(b)
	want, werr := decodeMembers(b)
	if !json.Valid(b) {
		if gerr == nil && werr != nil && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			t.Errorf("objectMembers(%q) accepted a non-object", b)
		}
		return
	}
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("objectMembers(%q) error %v, decoder %v", b, gerr, werr)
	}
	if gerr != nil {
		return
	}
	compact := func(ms []member) []string {
		var out []string
		for _, m := range ms {
			var c bytes.Buffer
			if err := json.Compact(&c, m.val); err != nil {
				t.Fatalf("member %q: %v", m.key, err)
			}
			out = append(out, m.key+"="+c.String())
		}
		return out
	}
	if diff := cmp.Diff(compact(want), compact(got)); diff != "" {
		t.Errorf("objectMembers(%q) (-decoder +scan):\n%s", b, diff)
	}
}

func TestObjectMembers(t *testing.T) {
	cases := []string{
		`{}`, ` { } `, `{"a":1}`, "{\n \"a\" : [1, {\"b\": \"}]\\\"\"}] ,\t\"c\":null}",
		`{"k\u0065y":true,"x":-1.5e+3,"s":"a\\\"b{"}`, `{"nested":{"a":{"b":[[],{}]}},"z":false}`,
		`[1]`, `{"a":1`, `{"a":}`, `{"a":1}{}`, `"x"`, ``, `{"a":1,}`,
	}
	for _, c := range cases {
		sameMembers(t, []byte(c))
	}
	for _, b := range igExamples(t) {
		sameMembers(t, b)
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, b := range igExamples(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"a":"\"}","b":[{"c":"]"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameMembers(t, b)
		sameCompact(t, b)
	})
}

// sameCompact fails unless compact gives json.Compact's output for valid
// JSON (on other input it must only not panic: it reads stored bodies,
// which PostgreSQL validated).
func sameCompact(t *testing.T, b []byte) {
	t.Helper()
	got, err := compact(b)
	if !json.Valid(b) {
		return
	}
	var want bytes.Buffer
	if cerr := json.Compact(&want, b); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Errorf("compact(%q) = %q, %v; want %q", b, got, err, want.Bytes())
	}
}

// BenchmarkWithMeta measures the serving of a stored resource.
func BenchmarkWithMeta(b *testing.B) {
	var body []byte
	for _, e := range igExamples(b) {
		if bytes.Contains(e, []byte(`"resourceType": "Observation"`)) || bytes.Contains(e, []byte(`"resourceType":"Observation"`)) {
			body = e
			break
		}
	}
	updated := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := withMeta(body, "obs-1", 3, updated); err != nil {
			b.Fatal(err)
		}
	}
}
