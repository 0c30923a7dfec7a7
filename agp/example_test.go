package agp_test

import (
	"fmt"
	"time"

	"fsecgm/agp"
	"fsecgm/cgm"
)

// Example computes the metrics of one hour of 15-minute readings in
// Europe/Rome.
func Example() {
	rome, _ := time.LoadLocation("Europe/Rome")
	start := time.Date(2026, 5, 4, 7, 0, 0, 0, rome)
	var rs []cgm.Reading
	for i, v := range []float64{65, 72, 110, 185, 140} {
		rs = append(rs, cgm.Reading{Time: start.Add(time.Duration(i) * 15 * time.Minute).UTC(), Value: v, Unit: cgm.MgDL, Kind: cgm.Historic})
	}
	r, err := agp.Compute(cgm.NewSeries(rs), agp.Options{Patient: "demo", Location: rome})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("readings %d, interval %v min, mean %.1f mg/dL, GMI %.2f%%\n", r.Readings, r.IntervalMinutes, r.MeanGlucose.MgDL, r.GMI.Percent)
	fmt.Printf("low %.0f%%, target %.0f%%, high %.0f%%\n", r.TimeInRanges.Low, r.TimeInRanges.Target, r.TimeInRanges.High)
	fmt.Printf("hypo episodes %d, hyper episodes %d\n", r.Events.HypoLevel1.Total, r.Events.HyperLevel1.Total)
	// Output:
	// readings 5, interval 15 min, mean 114.4 mg/dL, GMI 6.05%
	// low 20%, target 60%, high 20%
	// hypo episodes 1, hyper episodes 1
}
