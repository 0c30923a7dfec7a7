package fhirapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"fsecgm/taccuino/fhir"

	"github.com/google/go-cmp/cmp"
)

// decodeAny decodes JSON keeping numbers as written.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
	return v
}

// TestBundleEncoding checks searchsetBundle.encode against json.Marshal of
// the same Bundle: the same JSON, compact, byte for byte unless a string
// holds < > & (which json.Marshal writes as \u003c \u003e \u0026, and
// encode as they are stored: the same JSON strings).
func TestBundleEncoding(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	var all []searchEntry
	for i, ex := range igExamples(t) {
		body, err := withMeta(ex, "res-"+strings.Repeat("x", i), i+1, at)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(body) {
			t.Fatalf("withMeta gave invalid JSON: %.200s", body)
		}
		if c, _ := compact(body); !bytes.Equal(c, body) {
			t.Fatalf("withMeta did not compact: %.200s", body)
		}
		e := searchEntry{FullURL: "https://fse.example/fhir/Observation/res-" + strings.Repeat("x", i), Resource: body}
		if i%2 == 0 {
			e.Search = &entrySearch{Mode: "match"}
		}
		all = append(all, e)
	}
	all = append(all, searchEntry{FullURL: `https://fse.example/fhir/Patient/a?b=1&c="2"`, Resource: json.RawMessage(`{"resourceType":"Patient","text":{"div":"<div>é \u2028 \"x\"</div>"}}`)})
	for _, tc := range []struct {
		name    string
		entries []searchEntry
	}{
		{"no entries", nil},
		{"one entry", all[:1]},
		{"IG examples and escapes", all},
	} {
		b := searchsetBundle{ResourceType: "Bundle", Meta: &bundleMeta{LastUpdated: at.Format(time.RFC3339Nano)},
			Type: fhir.BundleSearchset, Total: len(tc.entries),
			Link: []bundleLink{{Relation: "self", URL: "https://fse.example/fhir/Observation?patient=Patient/p&_count=20"}}, Entry: tc.entries}
		got, err := b.encode()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(got) {
			t.Fatalf("%s: invalid JSON %.300s", tc.name, got)
		}
		if diff := cmp.Diff(decodeAny(t, want), decodeAny(t, got)); diff != "" {
			t.Errorf("%s: encode differs from json.Marshal (-Marshal +encode):\n%s", tc.name, diff)
		}
		unescape := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
		if unescape.Replace(string(want)) != unescape.Replace(string(got)) {
			t.Errorf("%s: bytes differ beyond json.Marshal's HTML escapes:\n got %.400s\nwant %.400s", tc.name, got, want)
		}
	}
}

// TestCompact checks compact against json.Compact.
func TestCompact(t *testing.T) {
	for _, in := range []string{
		`{}`, `{"a":1}`, "{ \"a\" : [1, 2,\n3],\t\"b\":\"x y\\\" z\"\r\n}", `{"s":"  spaces  inside  "}`,
		`{"a":"\\"}`, `["\\\\", " "]`,
	} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		got, err := compact([]byte(in))
		if err != nil || string(got) != want.String() {
			t.Errorf("compact(%q) = %q, %v; want %q", in, got, err, want.String())
		}
	}
	if _, err := compact([]byte(`{"a":"unterminated}`)); err == nil {
		t.Error("compact accepted an unterminated string")
	}
}

// BenchmarkBundleEncoding encodes a searchset of 20 of the IG's example
// Observations through json.Marshal (the baseline) and through encode.
func BenchmarkBundleEncoding(b *testing.B) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	exs := igExamples(b)
	var entries []searchEntry
	for i := range 20 {
		body, err := withMeta(exs[i%len(exs)], "res", 1, at)
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, searchEntry{FullURL: "https://fse.example/fhir/Observation/res", Resource: body, Search: &entrySearch{Mode: "match"}})
	}
	bundle := searchsetBundle{ResourceType: "Bundle", Type: fhir.BundleSearchset, Total: 20, Entry: entries}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
