package cgm

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		v       float64
		unit    Unit
		want    float64
		flags   Flag
		wantErr bool
	}{
		{120, MgDL, 120, 0, false},
		{40, MgDL, 40, 0, false},
		{39, MgDL, 40, FlagLow, false},
		{500, MgDL, 500, 0, false},
		{501, MgDL, 500, FlagHigh, false},
		{1000, MgDL, 500, FlagHigh, false},
		{1001, MgDL, 0, 0, true}, // implausible: a unit error, not HI
		{2.1, MmolL, 2.2, FlagLow, false},
		{27.9, MmolL, 27.8, FlagHigh, false},
		{6.7, MmolL, 6.7, 0, false},
		{120, MmolL, 0, 0, true}, // mg/dL read as mmol/L
		{0, MgDL, 0, 0, true},
		{-5, MgDL, 0, 0, true},
		{math.NaN(), MgDL, 0, 0, true},
		{math.Inf(1), MgDL, 0, 0, true},
		{100, Unit(9), 0, 0, true},
	}
	for _, tt := range tests {
		got, flags, err := Normalize(tt.v, tt.unit)
		if (err != nil) != tt.wantErr {
			t.Errorf("Normalize(%v, %v) error = %v, want error %v", tt.v, tt.unit, err, tt.wantErr)
			continue
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Reason == "" {
				t.Errorf("Normalize(%v, %v) error %v is not a *FieldError with a reason", tt.v, tt.unit, err)
			}
			continue
		}
		if got != tt.want || flags != tt.flags {
			t.Errorf("Normalize(%v, %v) = %v, %v; want %v, %v", tt.v, tt.unit, got, flags, tt.want, tt.flags)
		}
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ok := Reading{Time: now.Add(-time.Hour), Value: 120, Unit: MgDL, Kind: Historic, Device: "0D00000ABC"}
	tests := []struct {
		name  string
		mod   func(r *Reading)
		field string // "" when valid
	}{
		{"valid", func(r *Reading) {}, ""},
		{"no time", func(r *Reading) { r.Time = time.Time{} }, "time"},
		{"before CGM existed", func(r *Reading) { r.Time = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"two days in the future", func(r *Reading) { r.Time = now.Add(48 * time.Hour) }, "time"},
		{"unknown unit", func(r *Reading) { r.Unit = 0 }, "unit"},
		{"unknown kind", func(r *Reading) { r.Kind = 9 }, "kind"},
		{"below the limit", func(r *Reading) { r.Value = 39 }, "value"},
		{"above the limit", func(r *Reading) { r.Value = 501 }, "value"},
		{"LO flag on a normal value", func(r *Reading) { r.Flags = FlagLow }, "flags"},
		{"LO at the limit", func(r *Reading) { r.Value, r.Flags = 40, FlagLow }, ""},
		{"HI at the Libre limit", func(r *Reading) { r.Value, r.Flags = 500, FlagHigh }, ""},
		{"HI at the Dexcom limit", func(r *Reading) { r.Value, r.Flags = 400, FlagHigh }, ""},
		{"HI at the Dexcom limit, mmol/L", func(r *Reading) { r.Value, r.Unit, r.Flags = 22.2, MmolL, FlagHigh }, ""},
		{"HI below every limit", func(r *Reading) { r.Value, r.Flags = 399, FlagHigh }, "flags"},
		{"trend out of range", func(r *Reading) { r.Trend = 6 }, "trend"},
		{"serial too long", func(r *Reading) { r.Device = string(make([]byte, 65)) }, "device"},
	}
	for _, tt := range tests {
		r := ok
		tt.mod(&r)
		err := r.Validate(now)
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: Validate = %v, want a FieldError on %q", tt.name, err, tt.field)
		}
	}
}

func TestNewSeries(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 5, 4, 8, m, 0, 0, time.UTC) }
	rs := []Reading{
		{Time: at(10), Value: 110, Unit: MgDL, Kind: Historic},
		{Time: at(0), Value: 100, Unit: MgDL, Kind: Historic},
		{Time: at(10), Value: 111, Unit: MgDL, Kind: Historic}, // later duplicate wins
		{Time: at(10), Value: 150, Unit: MgDL, Kind: Scan},     // same instant, other kind: kept
		{Time: at(5), Value: 105, Unit: MgDL, Kind: Historic},
	}
	s := NewSeries(rs)
	if len(s) != 4 {
		t.Fatalf("NewSeries kept %d readings, want 4: %+v", len(s), s)
	}
	wantVals := []float64{100, 105, 111, 150}
	for i, r := range s {
		if r.Value != wantVals[i] {
			t.Errorf("s[%d].Value = %v, want %v", i, r.Value, wantVals[i])
		}
	}
	if got := s.Between(at(5), at(10)); len(got) != 1 || got[0].Value != 105 {
		t.Errorf("Between(08:05, 08:10) = %+v, want the 08:05 reading", got)
	}
	if s.Count(Historic) != 3 || s.Count(Scan) != 1 {
		t.Errorf("Count = %d historic, %d scan", s.Count(Historic), s.Count(Scan))
	}
	if r, ok := s.Latest(Historic); !ok || r.Value != 111 {
		t.Errorf("Latest(Historic) = %+v, %v", r, ok)
	}
	if _, ok := Series(nil).Latest(); ok {
		t.Error("Latest of an empty series reported a reading")
	}
}

func TestUnitsAndKinds(t *testing.T) {
	for _, s := range []string{"mg/dL", "MG/DL", "mmol/L", "mmol/l"} {
		if _, err := ParseUnit(s); err != nil {
			t.Errorf("ParseUnit(%q) = %v", s, err)
		}
	}
	if _, err := ParseUnit("g/L"); err == nil {
		t.Error("ParseUnit(g/L) accepted")
	}
	for _, k := range []Kind{Historic, Scan, Current, Strip} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
		b, _ := k.MarshalText()
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("text round trip of %v = %v, %v", k, back, err)
		}
	}
	if _, err := ParseKind("ketone"); err == nil {
		t.Error("ParseKind(ketone) accepted")
	}
	if got := ToMgDL(1, MmolL); got != MgDLPerMmolL {
		t.Errorf("ToMgDL(1 mmol/L) = %v", got)
	}
	if TrendRisingFast.Arrow() != "↑" || TrendUnknown.Arrow() != "" {
		t.Error("trend arrows wrong")
	}
}

func TestZone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"Europe/Rome", false},
		{"UTC", false},
		{"", false},
		{"America/Argentina/Buenos_Aires", false},
		{"Europe/Atlantide", true},
		{"../../etc/passwd", true},
	} {
		for range 2 { // the second call is answered from the cache
			got, err := Zone(tc.name)
			want, wantErr := time.LoadLocation(tc.name)
			if (err != nil) != tc.wantErr || (wantErr != nil) != tc.wantErr {
				t.Fatalf("Zone(%q): err %v, time.LoadLocation err %v", tc.name, err, wantErr)
			}
			if err != nil {
				continue
			}
			at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC) // a DST change in Europe
			if got.String() != want.String() || !at.In(got).Equal(at.In(want)) || at.In(got).Format(time.RFC3339) != at.In(want).Format(time.RFC3339) {
				t.Fatalf("Zone(%q) = %v, want %v", tc.name, got, want)
			}
		}
	}
	a, _ := Zone("Europe/Rome")
	b, _ := Zone("Europe/Rome")
	if a != b {
		t.Fatal("Zone loaded Europe/Rome twice")
	}
}
