package agp

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"fsecgm/cgm"
)

// Metric identifies one of the extended metrics: every column of iglu 4.3.0's
// all_metrics() with its default parameters (Broll et al., PLoS One
// 2021;16:e0248560), in all_metrics' column order. The subject id and the
// two dates of active_percent, which are not figures, are left out.
type Metric int

// The extended metrics, in the order of all_metrics' columns.
const (
	MetricADRR Metric = iota
	MetricCOGI
	MetricCV
	MetricEA1C
	MetricHypoLv1PerDay
	MetricHypoLv2PerDay
	MetricHypoExtendedPerDay
	MetricHyperLv1PerDay
	MetricHyperLv2PerDay
	MetricHypoLv1ExclPerDay
	MetricHyperLv1ExclPerDay
	MetricGMI
	MetricGRI
	MetricGRADE
	MetricGRADEEugly
	MetricGRADEHyper
	MetricGRADEHypo
	MetricHBGI
	MetricLBGI
	MetricHyperIndex
	MetricHypoIndex
	MetricIGC
	MetricIQR
	MetricJIndex
	MetricMValue
	MetricMAD
	MetricMAGE
	MetricActivePercent
	MetricNDays
	MetricAbove140
	MetricAbove180
	MetricAbove250
	MetricBelow54
	MetricBelow70
	MetricInRange63140
	MetricInRange70180
	MetricPGS
	MetricRange
	MetricSD
	MetricMin
	MetricQ1
	MetricMedian
	MetricMean
	MetricQ3
	MetricMax
	MetricCONGA
	MetricGVP
	MetricMODD
	MetricSDRoC
	MetricCVMean
	MetricCVSD
	MetricAUC
	MetricMAG
	MetricSDw
	MetricSDhhmm
	MetricSDwsh
	MetricSDdm
	MetricSDb
	MetricSDbdm

	// NumMetrics is the number of extended metrics.
	NumMetrics = iota
)

// metricColumns are iglu 4.3.0's all_metrics() column names.
var metricColumns = [NumMetrics]string{
	"ADRR", "COGI", "CV", "eA1C",
	"hypo_lv1", "hypo_lv2", "hypo_extended", "hyper_lv1", "hyper_lv2", "hypo_lv1_excl", "hyper_lv1_excl",
	"GMI", "GRI", "GRADE", "GRADE_eugly", "GRADE_hyper", "GRADE_hypo", "HBGI", "LBGI",
	"hyper_index", "hypo_index", "IGC", "IQR", "J_index", "M_value", "MAD", "MAGE",
	"active_percent", "ndays",
	"above_140", "above_180", "above_250", "below_54", "below_70", "in_range_63_140", "in_range_70_180",
	"PGS", "range", "SD", "Min.", "1st Qu.", "Median", "Mean", "3rd Qu.", "Max.",
	"Conga", "GVP", "MODD", "SD.Roc", "CV_Measures_Mean", "CV_Measures_SD", "AUC", "MAG",
	"SDw", "SDhhmm", "SDwsh", "SDdm", "SDb", "SDbdm",
}

var metricKeys = func() (keys [NumMetrics]string) {
	for i, c := range metricColumns {
		keys[i] = SnakeCase(c)
	}
	return keys
}()

// Column returns iglu's all_metrics() column name of m, such as "SD.Roc".
func (m Metric) Column() string { return metricColumns[m] }

// Key returns the JSON key of m: the column name in snake case ("sd_roc").
func (m Metric) Key() string { return metricKeys[m] }

// MetricByColumn returns the metric of an all_metrics() column name.
func MetricByColumn(column string) (Metric, bool) {
	i := slices.Index(metricColumns[:], column)
	return Metric(i), i >= 0
}

// SnakeCase converts an iglu column name to a JSON key: lower case, each run
// of characters other than letters and digits one "_", none at either end
// ("SD.Roc" → "sd_roc", "1st Qu." → "1st_qu", "J_index" → "j_index").
// Complexity O(len(s)).
func SnakeCase(s string) string {
	var b strings.Builder
	pending := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		default:
			pending = true
			continue
		}
		if pending && b.Len() > 0 {
			b.WriteByte('_')
		}
		pending = false
		b.WriteRune(r)
	}
	return b.String()
}

// Extended holds the extended metrics of one period. A figure iglu gives as
// NA (too few readings, no grid) is absent. Its JSON form is an object with
// one key per metric (Metric.Key), in all_metrics' column order, numbers
// never rounded, null for an absent figure.
type Extended struct {
	v [NumMetrics]float64 // NaN: absent (NA)
}

// Value returns the figure of m, or nil when it is absent.
func (e *Extended) Value(m Metric) *float64 {
	if v := e.v[m]; v == v {
		return &v
	}
	return nil
}

// MarshalJSON writes the figures as one object in column order.
func (e Extended) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(NumMetrics * 32)
	b.WriteByte('{')
	for i, v := range e.v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(metricKeys[i])
		b.WriteString(`":`)
		if v != v || math.IsInf(v, 0) {
			b.WriteString("null")
			continue
		}
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), v, 'g', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object MarshalJSON writes (unknown keys are
// ignored, missing ones are absent).
func (e *Extended) UnmarshalJSON(data []byte) error {
	var m map[string]*float64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for i := range e.v {
		e.v[i] = math.NaN()
		if p := m[metricKeys[i]]; p != nil {
			e.v[i] = *p
		}
	}
	return nil
}

// ComputeExtended computes the extended metrics of the readings in s for the
// options o (the same inputs as Compute; Options.AGP and Options.Daily are
// ignored). Compute with Options.Extended gives the same figures in
// Report.Extended.
func ComputeExtended(s cgm.Series, o Options) (Extended, error) {
	o.AGP, o.Daily, o.Extended = false, false, true
	r, err := Compute(s, o)
	if err != nil {
		return Extended{}, err
	}
	return *r.Extended, nil
}

// extended computes every extended metric (reference iglu 4.3.0's
// all_metrics(); each function below cites the paper that introduced the
// metric). Complexity O(n log n) for n readings (the quantiles sort), O(g)
// for the g points of the grid.
func (c *calc) extended(r *Report) *Extended {
	e := new(Extended)
	for i := range e.v {
		e.v[i] = math.NaN()
	}
	n := len(c.vals)
	if n == 0 {
		return e
	}
	// iglu's formulas are in mg/dL: a mmol/L series is converted.
	gl := c.vals
	if c.unit != cgm.MgDL {
		gl = c.scratchExt(n)
		for i, v := range c.vals {
			gl[i] = cgm.ToMgDL(v, c.unit)
		}
		// The grid too (in place: the AGP and the episodes, which read it
		// in the reported unit, are computed before).
		for i, v := range c.grid.vals {
			c.grid.vals[i] = cgm.ToMgDL(v, c.unit)
		}
	}
	c.rawMetrics(e, gl, r)
	c.episodeMetrics(e, r)
	if c.dt0 > 0 {
		c.gridMetrics(e)
		e.v[MetricMAGE] = c.mage()
		e.v[MetricPGS] = c.pgs(e)
	}
	return e
}

// scratchExt returns n float64s for the extended metrics' own use.
func (c *calc) scratchExt(n int) []float64 {
	c.w.ext = grow(c.w.ext, n)
	return c.w.ext
}

// rawMetrics computes the metrics of the raw readings (mg/dL values gl).
func (c *calc) rawMetrics(e *Extended, gl []float64, r *Report) {
	n := float64(len(gl))
	var sum float64
	var above140, above180, above250, below54, below70, in63140, in70180 int
	var grade, gradeEugly, gradeHyper, gradeHypo float64
	var hbgi, lbgi, hyperIdx, hypoIdx, mval float64
	lo, hi := gl[0], gl[0]
	for _, g := range gl {
		sum += g
		lo, hi = min(lo, g), max(hi, g)
		switch {
		case g > 250:
			above250++
			fallthrough
		case g > 180:
			above180++
			fallthrough
		case g > 140:
			above140++
		}
		if g < 54 {
			below54++
		}
		if g < 70 {
			below70++
		}
		if g >= 63 && g <= 140 {
			in63140++
		}
		if g >= 70 && g <= 180 {
			in70180++
		}
		t := c.rawTerms(g)
		grade += t.grade
		if g >= 70 && g <= 140 {
			gradeEugly += t.grade
		}
		if g > 140 {
			gradeHyper += t.grade
			hyperIdx += t.hyper
		}
		if g < 80 {
			gradeHypo += t.grade
			hypoIdx += (80 - g) * (80 - g)
		}
		if g >= 112.5 {
			hbgi += max(t.bgi, 0) * max(t.bgi, 0)
		} else {
			lbgi += min(t.bgi, 0) * min(t.bgi, 0)
		}
		mval += t.m
	}
	mean := sum / n
	pct := func(k int) float64 { return float64(k) / n * 100 }
	e.v[MetricAbove140], e.v[MetricAbove180], e.v[MetricAbove250] = pct(above140), pct(above180), pct(above250)
	e.v[MetricBelow54], e.v[MetricBelow70] = pct(below54), pct(below70)
	e.v[MetricInRange63140], e.v[MetricInRange70180] = pct(in63140), pct(in70180)
	e.v[MetricGRADE] = grade / n
	e.v[MetricGRADEEugly] = gradeEugly / grade * 100
	e.v[MetricGRADEHyper] = gradeHyper / grade * 100
	e.v[MetricGRADEHypo] = gradeHypo / grade * 100
	e.v[MetricHBGI] = 22.77 * hbgi / n
	e.v[MetricLBGI] = 22.77 * lbgi / n
	e.v[MetricHyperIndex] = hyperIdx / (n * 30)
	e.v[MetricHypoIndex] = hypoIdx / (n * 30)
	e.v[MetricIGC] = e.v[MetricHyperIndex] + e.v[MetricHypoIndex]
	e.v[MetricMValue] = 1000 * mval / n
	e.v[MetricRange] = hi - lo
	e.v[MetricMin], e.v[MetricMax] = lo, hi
	if r.MeanGlucose != nil {
		mean = r.MeanGlucose.MgDL
	}
	e.v[MetricMean] = mean
	// GMI (Bergenstal et al. 2018) and eA1C (Nathan et al., Diabetes Care
	// 2008;31:1473, ADAG: A1C = (mean + 46.7)/28.7).
	e.v[MetricGMI] = 3.31 + 0.02392*mean
	e.v[MetricEA1C] = (46.7 + mean) / 28.7
	if r.SDMgDL != nil {
		sd := *r.SDMgDL
		e.v[MetricSD] = sd
		e.v[MetricCV] = *r.CVPercent
		// J-index (Wojcicki, Horm Metab Res 1995;27:41): 0.001·(mean + SD)².
		e.v[MetricJIndex] = 0.001 * (mean + sd) * (mean + sd)
		e.v[MetricCOGI] = cogi(e.v[MetricInRange70180], e.v[MetricBelow70], sd)
	}
	// GRI (Klonoff et al. 2023).
	e.v[MetricGRI] = GRIFromRanges(Ranges{
		VeryLow: pct(below54), Low: pct(below70) - pct(below54),
		High: pct(above180) - pct(above250), VeryHigh: pct(above250),
	}).Value
	// Quantiles (type 7), IQR and MAD (Rodbard 2009).
	q1, med, q3, mad := c.quantiles(gl)
	e.v[MetricQ1], e.v[MetricMedian], e.v[MetricQ3] = q1, med, q3
	e.v[MetricIQR] = q3 - q1
	e.v[MetricMAD] = mad
	c.adrr(e, gl)
	e.v[MetricActivePercent] = c.igluActivePercent()
	if k := len(c.times); k > 0 {
		e.v[MetricNDays] = roundDigits1((c.times[k-1] - c.times[0]) / 86400)
	}
}

// quantiles returns the type-7 quartiles and the median of gl, and the MAD:
// 1.4826 · median |g − median| (R's mad() with its default constant, which
// makes it consistent with the SD for normal data). Whole mg/dL values in
// [0, 1024) are counted into a histogram, so the cost is O(n + 1024); other
// values are sorted, O(n log n).
func (c *calc) quantiles(gl []float64) (q1, med, q3, mad float64) {
	hist := c.w.hist[:]
	clear(hist)
	whole := true
	for _, g := range gl {
		i := int(g)
		if float64(i) != g || i < 0 || i >= len(hist) {
			whole = false
			break
		}
		hist[i]++
	}
	n := len(gl)
	if !whole {
		sorted := make([]float64, n)
		copy(sorted, gl)
		slices.Sort(sorted)
		q1, med, q3 = quantile7(sorted, 0.25), quantile7(sorted, 0.5), quantile7(sorted, 0.75)
		for i, v := range sorted {
			sorted[i] = math.Abs(v - med)
		}
		return q1, med, q3, 1.4826 * median(sorted)
	}
	// kth returns the r-th smallest value (0-based) from the histogram.
	kth := func(r int) float64 {
		for v, k := range hist {
			if r < k {
				return float64(v)
			}
			r -= k
		}
		return math.NaN()
	}
	q := func(p float64) float64 {
		index := 1 + float64(n-1)*p
		lo, hi := math.Floor(index), math.Ceil(index)
		x, y := kth(int(lo)-1), kth(int(hi)-1)
		if index > lo && y != x {
			h := index - lo
			x = (1-h)*x + h*y
		}
		return x
	}
	q1, q3 = q(0.25), q(0.75)
	// R's median: the middle value, or the mean of the two middle values.
	if n%2 == 1 {
		med = kth(n / 2)
	} else {
		med = (kth(n/2-1) + kth(n/2)) / 2
	}
	// The deviations |v − med| in increasing order, merging the values at
	// or below the median (walking down) with those above it (walking up).
	devKth := func(r int) float64 {
		left := int(math.Floor(med))
		right := left + 1
		lk, rk := 0, 0 // counts taken from hist[left] and hist[right]
		for {
			for left >= 0 && lk == hist[left] {
				left--
				lk = 0
			}
			for right < len(hist) && rk == hist[right] {
				right++
				rk = 0
			}
			var d float64
			if right >= len(hist) || (left >= 0 && med-float64(left) <= float64(right)-med) {
				d = med - float64(left)
				lk++
			} else {
				d = float64(right) - med
				rk++
			}
			if r == 0 {
				return d
			}
			r--
		}
	}
	var md float64
	if n%2 == 1 {
		md = devKth(n / 2)
	} else {
		md = (devKth(n/2-1) + devKth(n/2)) / 2
	}
	return q1, med, q3, 1.4826 * md
}

// terms are the per-reading terms of the raw-reading indices.
type terms struct {
	grade float64 // GRADE
	bgi   float64 // LBGI/HBGI and ADRR
	hyper float64 // hyperglycaemic index
	m     float64 // M-value
}

// termsOf computes the per-reading terms of a glucose value g (mg/dL):
//   - GRADE (Hill et al., Diabet Med 2007;24:753, "Methods"): 425·(log10(
//     log10(g/18)) + 0.16)², g/18 in mmol/L;
//   - LBGI and HBGI (Kovatchev et al., Diabetes Care 1997;20:1655 and 2006;
//     29:2433, "Research design and methods"): f = ln(g)^1.084 − 5.381, risk
//     22.77·f² (= 10·(1.509·f)²) on the low (g < 112.5) or high side;
//   - hyperglycaemic index (Rodbard, Diabetes Technol Ther 2009;11 Suppl 1:
//     S55, "Indices of quality of glycemic control"): (g − 140)^1.1 above the
//     upper limit 140 (the hypoglycaemic index squares 80 − g below 80);
//   - M-value (Schlichtkrull et al., Acta Med Scand 1965;177:95): |log10(g/
//     90)|³, iglu's reference value 90 mg/dL.
func termsOf(g float64) terms {
	t := terms{
		grade: 425 * sq(math.Log10(math.Log10(g/18))+0.16),
		bgi:   math.Pow(math.Log(g), 1.084) - 5.381,
	}
	if g > 140 {
		t.hyper = math.Pow(g-140, 1.1)
	}
	a := math.Abs(math.Log10(g / 90))
	t.m = a * a * a
	return t
}

func sq(x float64) float64 { return x * x }

// rawTerms returns termsOf(g), remembered per whole mg/dL value: CGM values
// are whole numbers in mg/dL, so a period of thousands of readings needs the
// logarithms of a few hundred values. Complexity O(1) amortized.
func (c *calc) rawTerms(g float64) terms {
	i := int(g)
	if float64(i) != g || i < 0 || i >= len(c.w.terms) {
		return termsOf(g)
	}
	if !c.w.termsSet[i] {
		c.w.terms[i] = termsOf(g)
		c.w.termsSet[i] = true
	}
	return c.w.terms[i]
}

// cogi is the Continuous Glucose Monitoring Index (Leelarathna et al., J
// Diabetes Sci Technol 2020;14:277, "Methods: COGI"): 50 % weight on time in
// range 70–180 (0–100 %), 35 % on time below 70 (15 % and more scores 0) and
// 15 % on the SD (18 mg/dL and less scores fully, 108 and more nothing), in
// percent. Complexity O(1).
func cogi(tir, tbr, sd float64) float64 {
	f := 0.0
	if tir > 0 {
		f += min(tir/100, 1) * 0.5
	}
	if tbr < 15 {
		f += min((tbr-15)/(0-15), 1) * 0.35
	}
	if sd < 108 {
		f += min((sd-108)/(18-108), 1) * 0.15
	}
	return f * 100
}

// adrr is the Average Daily Risk Range (Kovatchev et al., Diabetes Care
// 2006;29:2433, "Computation of the ADRR"): for each local calendar day with
// readings, the largest low-side risk plus the largest high-side risk, 22.77
// · f² with f = ln(g)^1.084 − 5.381; averaged over the days. Days are the
// patient's local days (iglu groups by as.Date in the data's zone too).
// Complexity O(n).
func (c *calc) adrr(e *Extended, gl []float64) {
	days, total := 0, 0.0
	next := math.Inf(-1)
	lo, hi := 0.0, 0.0
	flush := func() {
		if days > 0 {
			total += 22.77*lo*lo + 22.77*hi*hi
		}
	}
	for i, t := range c.times {
		if t >= next {
			flush()
			days++
			lo, hi = 0, 0
			next = float64(c.clk.nextMidnight(int64(math.Floor(t))))
		}
		f := c.rawTerms(gl[i]).bgi
		lo, hi = min(lo, f), max(hi, f)
	}
	flush()
	e.v[MetricADRR] = total / float64(days)
}

// episodeMetrics copies the episodes per day of the consensus episodes
// (iglu's episode_calculation, as all_metrics reports them).
func (c *calc) episodeMetrics(e *Extended, r *Report) {
	if c.dt0 == 0 {
		return
	}
	ev := r.Events
	e.v[MetricHypoLv1PerDay] = ev.HypoLevel1.PerDay
	e.v[MetricHypoLv2PerDay] = ev.HypoLevel2.PerDay
	e.v[MetricHypoExtendedPerDay] = ev.HypoExtended.PerDay
	e.v[MetricHyperLv1PerDay] = ev.HyperLevel1.PerDay
	e.v[MetricHyperLv2PerDay] = ev.HyperLevel2.PerDay
	e.v[MetricHypoLv1ExclPerDay] = ev.HypoLevel1Exclusive.PerDay
	e.v[MetricHyperLv1ExclPerDay] = ev.HyperLevel1Exclusive.PerDay
}

// pgs is the Personal Glycemic State (Hirsch et al., Diabetes Technol Ther
// 2017;19 Suppl 3:S38, Table 1): f(GVP) + g(mean) + h(time in range) +
// j(hypoglycaemic episodes per week), with GVP in percent (Peyser 2018), time
// in range 70–180, and episodes as iglu's pgs() counts them: a start needs
// 20 minutes below the threshold and an end 30 minutes above it, level 2
// below 54, level 1 exclusive below 70. Complexity O(g).
func (c *calc) pgs(e *Extended) float64 {
	mean := e.v[MetricMean]
	gvp := c.gvpPercent()
	fGVP := 1 + 9/(1+math.Exp(-0.049*(gvp-65.47)))
	fTIR := 1 + 9/(1+math.Exp(0.0833*(e.v[MetricInRange70180]-55.04)))
	fMG := 1 + 9*(1/(1+math.Exp(0.1139*(mean-72.08)))+1/(1+math.Exp(-0.09195*(mean-157.57))))
	lv2, lv1excl := c.pgsEpisodesPerDay()
	n54 := lv2 * 7
	fH54 := 0.5 + 4.5*(1-math.Exp(-0.81093*n54))
	n70 := lv1excl * 7
	fH70 := 5.0
	if n70 <= 7.65 {
		fH70 = 0.5714*n70 + 0.625
	}
	return fGVP + fTIR + fMG + fH54 + fH70
}

// pgsEpisodesPerDay returns the level 2 and level 1 exclusive hypoglycaemic
// episodes per day with PGS's durations (start 20 minutes, end 30).
func (c *calc) pgsEpisodesPerDay() (lv2, lv1excl float64) {
	g := &c.grid
	dt := float64(g.dt0)
	start, end := math.Ceil(20/dt), int(math.Ceil(30/dt))
	runs := c.w.runs
	s1 := level{flag: flagHypo1, minStart: start, minEnd: end}.find(runs, nil)
	s2 := level{flag: flagHypo2, minStart: start, minEnd: end}.find(runs, nil)
	days := float64(g.valid) * dt / 60 / 24
	return float64(len(s2)) / days, float64(len(exclusive(s1, s2))) / days
}
