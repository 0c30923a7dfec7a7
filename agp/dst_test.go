package agp

import (
	"testing"
	"time"

	"fsecgm/cgm"
)

// dstSeries returns 5-minute historic readings over the three local days
// around a DST change in Europe/Rome, from local midnight to local midnight.
func dstSeries(first string) (cgm.Series, time.Time, time.Time) {
	d, _ := time.ParseInLocation("2006-01-02", first, rome)
	end := d.AddDate(0, 0, 3)
	var rs []cgm.Reading
	for t := d; t.Before(end); t = t.Add(5 * time.Minute) {
		rs = append(rs, cgm.Reading{Time: t.UTC(), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	return cgm.NewSeries(rs), d, end
}

// TestDSTDays checks the two DST days of 2026 in Europe/Rome: 29 March has
// 23 hours and 25 October 25; days worn, daily profiles and AGP slots follow
// the local wall clock of the patient's zone (fsecgm's choice, beyond
// iglu: nothing adds a fixed 24 h to move from one local day to the next).
func TestDSTDays(t *testing.T) {
	tests := []struct {
		first      string
		dstDay     string
		hours      float64
		readings   int
		slotValues map[int]int // slot minute → values, for slots that differ from 3
		periodDays float64
		activeFull bool
	}{
		{first: "2026-03-28", dstDay: "2026-03-29", hours: 23, readings: 276,
			// 02:00–02:55 do not exist on the 29th; midnight slot 1440 is
			// reached on the 28th and 29th only (the data ends at 23:55 of
			// the 30th).
			slotValues: map[int]int{120: 2, 125: 2, 130: 2, 135: 2, 140: 2, 145: 2, 150: 2, 155: 2, 160: 2, 165: 2, 170: 2, 175: 2, 1440: 2}},
		{first: "2026-10-24", dstDay: "2026-10-25", hours: 25, readings: 300,
			// 02:00–02:55 happen twice on the 25th.
			slotValues: map[int]int{120: 4, 125: 4, 130: 4, 135: 4, 140: 4, 145: 4, 150: 4, 155: 4, 160: 4, 165: 4, 170: 4, 175: 4, 1440: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.dstDay, func(t *testing.T) {
			s, start, end := dstSeries(tt.first)
			r := compute(t, s, Options{Location: rome, AGP: true, Daily: true, Period: &Period{Start: start, End: end}})
			if r.DaysWorn != 3 {
				t.Errorf("days worn = %d, want 3", r.DaysWorn)
			}
			if r.Period.Days != 3 {
				t.Errorf("period days = %v, want 3 calendar days", r.Period.Days)
			}
			if r.ActivePercent != 100 {
				t.Errorf("active = %v %%, want 100 (every 5-minute slot of the real period has a reading)", r.ActivePercent)
			}
			if len(r.Daily) != 3 {
				t.Fatalf("daily profiles = %d, want 3", len(r.Daily))
			}
			for _, d := range r.Daily {
				wantH, wantN := 24.0, 288
				if d.Date == tt.dstDay {
					wantH, wantN = tt.hours, tt.readings
				}
				if d.Hours != wantH || d.Readings != wantN {
					t.Errorf("day %s: %v hours, %d readings; want %v, %d", d.Date, d.Hours, d.Readings, wantH, wantN)
				}
			}
			if len(r.AGP) != 288 {
				t.Fatalf("AGP slots = %d, want 288", len(r.AGP))
			}
			for _, sl := range r.AGP {
				want := 3
				if v, ok := tt.slotValues[sl.Minute]; ok {
					want = v
				}
				if sl.Days != want {
					t.Errorf("slot %d: %d values, want %d", sl.Minute, sl.Days, want)
				}
			}
		})
	}
}

// TestLocalDays checks that a period of local calendar days spans 23 or 25
// hours on DST days instead of adding 24 h.
func TestLocalDays(t *testing.T) {
	d := time.Date(2026, 3, 29, 12, 0, 0, 0, rome)
	p := LocalDays(d, d, rome)
	if got := p.End.Sub(p.Start); got != 23*time.Hour {
		t.Errorf("29 March 2026 lasts %v, want 23h", got)
	}
	d = time.Date(2026, 10, 25, 12, 0, 0, 0, rome)
	p = LocalDays(d, d, rome)
	if got := p.End.Sub(p.Start); got != 25*time.Hour {
		t.Errorf("25 October 2026 lasts %v, want 25h", got)
	}
	p = LocalDays(time.Date(2026, 3, 16, 0, 0, 0, 0, rome), time.Date(2026, 3, 29, 0, 0, 0, 0, rome), rome)
	if got := calendarDays(p.Start, p.End, rome); got != 14 {
		t.Errorf("16–29 March: %v days, want 14", got)
	}
}

// TestGivenPeriodCapture: in a given period, captured % counts at most one
// reading per interval slot against the readings the period can hold.
func TestGivenPeriodCapture(t *testing.T) {
	start := time.Date(2026, 5, 4, 0, 0, 0, 0, rome)
	p := LocalDays(start, start, rome) // 24 h: 96 slots of 15 minutes
	var rs []cgm.Reading
	for i := 0; i < 48; i++ { // first 12 hours only
		rs = append(rs, cgm.Reading{Time: start.Add(time.Duration(i) * 15 * time.Minute).UTC(), Value: 100, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	r := compute(t, cgm.NewSeries(rs), Options{Location: rome, Period: &p})
	if r.ActivePercent != 50 || r.Period.Days != 1 || r.Sufficient || r.Period.Automatic {
		t.Errorf("active %v days %v sufficient %v automatic %v; want 50, 1, false, false", r.ActivePercent, r.Period.Days, r.Sufficient, r.Period.Automatic)
	}
}
