package agp

import (
	"testing"
	"time"

	"fsecgm/cgm"
)

// TestDaysWithData checks that a day counts as a day with data only when it
// holds 70 % of its expected readings: 96 for a 24-hour day of 15-minute
// data, 92 for the 23-hour day the clocks go forward (Europe/Rome, 29 March
// 2026), while DaysWorn counts every day with a reading.
func TestDaysWithData(t *testing.T) {
	first := time.Date(2026, 3, 27, 0, 0, 0, 0, rome)
	// Readings per day, from the first slot of each local day.
	perDay := []int{96, 60, 67, 65, 64, 1}
	var rs []cgm.Reading
	for i, n := range perDay {
		day := first.AddDate(0, 0, i)
		for k := 0; k < n; k++ {
			rs = append(rs, cgm.Reading{Time: day.Add(time.Duration(k) * 15 * time.Minute).UTC(), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
	}
	// 27 Mar: 96/96; 28 Mar: 60/96 (62.5 %); 29 Mar (23 h): 67/92 (72.8 %);
	// 30 Mar: 65/96 (67.7 %); 31 Mar: 64/96; 1 Apr: 1/96.
	p := LocalDays(first, first.AddDate(0, 0, len(perDay)-1), rome)
	r, err := Compute(cgm.NewSeries(rs), Options{Location: rome, Period: &p})
	if err != nil {
		t.Fatal(err)
	}
	if r.DaysWorn != 6 {
		t.Errorf("DaysWorn = %d, want 6 (every day has a reading)", r.DaysWorn)
	}
	if r.DaysWithData != 2 {
		t.Errorf("DaysWithData = %d, want 2 (27 March and the 23-hour 29 March reach 70 %%)", r.DaysWithData)
	}
	// 66 of 96 is 68.75 %, 68 of 96 is 70.8 %: the boundary.
	for n, want := range map[int]int{66: 0, 67: 0, 68: 1} {
		day := time.Date(2026, 5, 4, 0, 0, 0, 0, rome)
		var one []cgm.Reading
		for k := 0; k < n; k++ {
			one = append(one, cgm.Reading{Time: day.Add(time.Duration(k) * 15 * time.Minute).UTC(), Value: 120, Unit: cgm.MgDL, Kind: cgm.Historic})
		}
		p := LocalDays(day, day, rome)
		r, err := Compute(cgm.NewSeries(one), Options{Location: rome, Period: &p})
		if err != nil {
			t.Fatal(err)
		}
		if r.DaysWithData != want {
			t.Errorf("%d readings of 96: DaysWithData = %d, want %d", n, r.DaysWithData, want)
		}
	}
}
