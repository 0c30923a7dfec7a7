package fhir

import (
	"testing"
	"time"

	"fsecgm/cgm"
)

// fourteenDays returns the transaction Bundle of 14 days of 5-minute
// readings (4,032), the size of a typical submission.
func fourteenDays(b *testing.B) []byte {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	rs := make([]cgm.Reading, 14*288)
	for i := range rs {
		rs[i] = cgm.Reading{Time: t0.Add(time.Duration(i) * 5 * time.Minute), Value: float64(70 + i%150), Unit: cgm.MgDL, Kind: cgm.Historic, Device: "0M0008L4D1E"}
	}
	bun, err := ReadingsBundle(ReadingsInput{Base: testBase, Patient: examplePatient(), Devices: []DeviceInfo{exampleSensor()},
		Readings: rs, Type: BundleTransaction, Timestamp: t0})
	if err != nil {
		b.Fatal(err)
	}
	return mustJSON(b, bun)
}

// BenchmarkParseSubmission14Days parses a 14-day submission; the
// baseline in the same run is encoding/json reading the same text into
// our Bundle type (no checks, no classification).
func BenchmarkParseSubmission14Days(b *testing.B) {
	data := fourteenDays(b)
	b.Run("baseline=json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var bun Bundle
			if err := bun.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseSubmissionBundle", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			s, err := ParseSubmissionBundle(data)
			if err != nil || s.Err() != nil {
				b.Fatal(err, s.Err())
			}
		}
	})
}

// BenchmarkSummaryBundle maps one report to its summary Bundle.
func BenchmarkSummaryBundle(b *testing.B) {
	in := summaryInput(b, BundleTransaction)
	for b.Loop() {
		if _, err := SummaryBundle(in); err != nil {
			b.Fatal(err)
		}
	}
}
