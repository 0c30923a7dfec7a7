package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScan(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		opts     Options
		pointer  string // "" for no duplicate
		depth    bool   // refused for depth
	}{
		{"empty object", `{}`, Options{}, "", false},
		{"distinct", `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, Options{}, "", false},
		{"top level", `{"a":1,"b":2,"a":3}`, Options{}, "/a", false},
		{"nested", `{"x":{"y":[1,{"z":1,"z":2}]}}`, Options{}, "/x/y/1/z", false},
		{"second array element", `{"entry":[{"r":{"code":1}},{"r":{"code":1,"id":2,"code":3}}]}`, Options{}, "/entry/1/r/code", false},
		{"escaped spelling", `{"a":1,"\u0061":2}`, Options{}, "/a", false},
		{"escaped quote in name", `{"a\"b":1,"a\"b":2}`, Options{}, `/a"b`, false},
		{"pointer escapes", `{"a/b":{"c~d":1,"c~d":2}}`, Options{}, "/a~1b/c~0d", false},
		{"brackets in strings", `{"a":"{[\"","b":"]}","a":0}`, Options{}, "/a", false},
		{"case differs", `{"granted":true,"Granted":false}`, Options{}, "", false},
		{"case differs, folded", `{"granted":true,"Granted":false}`, Options{Fold: true}, "/Granted", false},
		{"kelvin sign, folded", `{"k":1,"\u212a":2}`, Options{Fold: true}, "/\u212a", false},
		{"long s, folded", `{"ſ":1,"S":2}`, Options{Fold: true}, "/S", false},
		{"accents, folded", `{"é":1,"É":2}`, Options{Fold: true}, "/É", false},
		{"same name in sibling objects", `[{"a":1},{"a":1}]`, Options{Fold: true}, "", false},
		{"too deep", `[[[[1]]]]`, Options{MaxDepth: 3}, "", true},
		{"deep enough", `[[[1]]]`, Options{MaxDepth: 3}, "", false},
		{"malformed", `{"a":1,"a`, Options{}, "", false},
		{"unclosed duplicate", `{"a":1,"a":`, Options{}, "/a", false},
	} {
		err := Scan([]byte(tt.in), tt.opts)
		var e *Error
		switch {
		case tt.pointer == "" && !tt.depth:
			if err != nil {
				t.Errorf("%s: Scan(%s) = %v, want nil", tt.name, tt.in, err)
			}
		case !errors.As(err, &e):
			t.Errorf("%s: Scan(%s) = %v, want an *Error", tt.name, tt.in, err)
		case tt.depth && (e.Duplicate() || e.Depth != tt.opts.MaxDepth):
			t.Errorf("%s: Scan(%s) = %v, want the depth refusal", tt.name, tt.in, err)
		case !tt.depth && e.Pointer != tt.pointer:
			t.Errorf("%s: Scan(%s) = pointer %q, want %q", tt.name, tt.in, e.Pointer, tt.pointer)
		}
	}
}

// TestScanManyMembers crosses the switch from the linear search to the map.
func TestScanManyMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strconv.Itoa(i) + `":{"x":1,"y":2}`)
	}
	ok := b.String() + "}"
	if err := Scan([]byte(ok), Options{Fold: true}); err != nil {
		t.Fatalf("200 distinct members: %v", err)
	}
	dup := b.String() + `,"m150":0}`
	var e *Error
	if err := Scan([]byte(dup), Options{}); !errors.As(err, &e) || e.Pointer != "/m150" {
		t.Fatalf("200 members and a repeat: %v, want /m150", err)
	}
	if err := Scan([]byte(b.String()+`,"M150":0}`), Options{Fold: true}); !errors.As(err, &e) || e.Pointer != "/M150" {
		t.Fatalf("200 members and a repeat in another case: %v, want /M150", err)
	}
}

// TestScanAllocations checks that an ordinary body costs no allocation
// beyond the frame stack.
func TestScanAllocations(t *testing.T) {
	body := []byte(strings.Repeat(`{"resource":{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"99504-3"}]},"valueQuantity":{"value":120,"unit":"mg/dL"}}},`, 50))
	body = append(append([]byte(`{"entry":[`), body[:len(body)-1]...), "]}"...)
	var s scanner
	if err := s.scan(body, Options{MaxDepth: 32}); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(20, func() {
		if err := s.scan(body, Options{MaxDepth: 32}); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per scan with a warm stack, want 0", n)
	}
}

// duplicateByDecoder is the reference: the pointer of the first repeated
// member found by walking encoding/json's tokens, or "" (valid JSON only).
func duplicateByDecoder(b []byte, fold bool) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type level struct {
		obj   bool
		key   string
		index int
		seen  map[string]bool
		want  bool // expecting a key
	}
	var st []*level
	path := func(last string) string {
		var sb strings.Builder
		for _, l := range st[:len(st)-1] {
			sb.WriteByte('/')
			if l.obj {
				sb.WriteString(escapePointer(l.key))
			} else {
				sb.WriteString(strconv.Itoa(l.index - 1))
			}
		}
		return sb.String() + "/" + escapePointer(last)
	}
	value := func() {
		if len(st) == 0 {
			return
		}
		l := st[len(st)-1]
		if l.obj {
			l.want = true
		} else {
			l.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(st) > 0 && !st[len(st)-1].obj {
					st[len(st)-1].index++
				}
				st = append(st, &level{obj: v == '{', want: v == '{', seen: map[string]bool{}})
			default:
				st = st[:len(st)-1]
				if len(st) > 0 && st[len(st)-1].obj {
					st[len(st)-1].want = true
				}
			}
		case string:
			if len(st) > 0 && st[len(st)-1].obj && st[len(st)-1].want {
				l := st[len(st)-1]
				k := v
				if fold {
					k = string(foldKey([]byte(v)))
				}
				if l.seen[k] {
					return path(v), nil
				}
				l.seen[k], l.key, l.want = true, v, false
				continue
			}
			value()
		default:
			value()
		}
	}
}

// FuzzScan checks Scan against encoding/json's tokenizer on valid JSON
// (the same repeated member, found at the same pointer) and its depth
// against Depth, and that it never panics on anything.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"x":[{"y":1},{"y":1,"y":2}]}`, `{"a":"\"","\u0061":1}`,
		`[[[]]]`, `{"A":1,"a":2}`, `{"k":1,"\u212a":2}`, `"{\"a\":1,\"a\":2}"`, `{"a":{"b":1},"b":{"a":1}}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, fold bool) {
		err := Scan(b, Options{Fold: fold, MaxDepth: 64})
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %T %v", err, err)
		}
		if e != nil && !e.Duplicate() && Depth(b) <= 64 {
			t.Fatalf("refused for depth but Depth = %d", Depth(b))
		}
		if !json.Valid(b) || Depth(b) > 64 {
			return
		}
		want, rerr := duplicateByDecoder(b, fold)
		if rerr != nil {
			t.Fatalf("reference: %v", rerr)
		}
		got := ""
		if e != nil {
			got = e.Pointer
		}
		if got != want {
			t.Fatalf("Scan(%q, fold %v) = %q, reference %q", b, fold, got, want)
		}
	})
}

// BenchmarkScan compares Scan (depth and repeated names) with Depth, the
// depth-only scan it replaced, on a FHIR submission of 2,000 sensor
// readings (about 2.7 MB): each iteration runs both, alternately, so that
// the load of a shared machine weighs alike on both, and the benchmark
// reports scan_vs_depth_ratio (Scan's time over Depth's).
func BenchmarkScan(b *testing.B) {
	entry := `{"fullUrl":"https://platform.example/fhir/Observation/a8895037fb01cac489381ad9e7cf3e05","resource":{"resourceType":"Observation","id":"a8895037fb01cac489381ad9e7cf3e05","meta":{"profile":["http://hl7.org/fhir/uv/cgm/StructureDefinition/cgm-sensor-reading-mass-per-volume"]},"identifier":[{"system":"https://platform.example/fhir/identifier/observation","value":"a8895037fb01cac489381ad9e7cf3e05bcf6ebcdfef27def17d5c5a7b7a78d13"}],"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"99504-3","display":"Glucose [Mass/volume] in Interstitial fluid"}]},"subject":{"reference":"Patient/plat-1"},"effectiveDateTime":"2024-05-02T08:00:00Z","valueQuantity":{"value":90,"unit":"mg/dl","system":"http://unitsofmeasure.org","code":"mg/dL"},"method":{"coding":[{"system":"https://fsecgm.example.org/fhir/CodeSystem/cgm-metrics","code":"reading-historic","display":"Historic sensor reading"}],"text":"CGM sensor reading, historic"},"device":{"reference":"Device/1211767b8597ebb1d3e81f3fd9c5546d"}},"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=https://platform.example/fhir/identifier/observation|a8895037fb01cac489381ad9e7cf3e05bcf6ebcdfef27def17d5c5a7b7a78d13"}}`
	body := []byte(`{"resourceType":"Bundle","type":"transaction","timestamp":"2024-05-02T14:30:00Z","entry":[` +
		strings.Repeat(entry+",", 1999) + entry + `]}`)
	var s scanner
	var depthT, scanT time.Duration
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if Depth(body) > 32 {
			b.Fatal("deep")
		}
		t1 := time.Now()
		if err := s.scan(body, Options{MaxDepth: 32}); err != nil {
			b.Fatal(err)
		}
		depthT, scanT = depthT+t1.Sub(t0), scanT+time.Since(t1)
	}
	ratio := float64(scanT) / float64(depthT)
	b.ReportMetric(ratio, "scan_vs_depth_ratio")
	fmt.Printf("scan_vs_depth_ratio: %.2f\n", ratio)
}
