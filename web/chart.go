package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mtasts/mtasts/reportstore"
)

// Charts are SVG drawn on the server and put inline into the page: no
// script, no image requests. Coordinates are in the units of a fixed
// viewBox that the style sheet scales to the page's width; numbers are
// written with one decimal so that the output is stable for tests.

// dailySeries returns one DaySummary for each of the n days from from
// (midnight UTC), in order; days without reports have zero counts.
func dailySeries(days []reportstore.DaySummary, from time.Time, n int) []reportstore.DaySummary {
	byDay := make(map[string]reportstore.DaySummary, len(days))
	for _, d := range days {
		byDay[d.Day] = d
	}
	out := make([]reportstore.DaySummary, n)
	for i := range out {
		day := from.AddDate(0, 0, i).Format(time.DateOnly)
		out[i] = byDay[day]
		out[i].Day = day
	}
	return out
}

// barChart is a chart of one stacked bar per day.
type barChart struct {
	label string // the chart's accessible name
	days  []reportstore.DaySummary
	// segments returns the values of a day's bar, bottom first, each
	// drawn with the class of the same index.
	segments func(reportstore.DaySummary) []float64
	classes  []string
	// tick formats a value of the y axis; tip describes a day.
	tick func(float64) string
	tip  func(reportstore.DaySummary) string
	// href, if set, links the bar of a day with sessions.
	href func(day string) string
}

// Geometry of a bar chart, in viewBox units.
const (
	chartWidth, chartHeight = 800.0, 200.0
	chartLeft, chartRight   = 52.0, 8.0
	chartTop, chartBottom   = 10.0, 24.0
	plotWidth               = chartWidth - chartLeft - chartRight
	plotHeight              = chartHeight - chartTop - chartBottom
	yTicks                  = 4
	minBarHeight            = 1.0 // a non-zero value never disappears
)

// render draws the chart.
func (c *barChart) render() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartWidth, chartHeight, template.HTMLEscapeString(c.label))
	n := len(c.days)
	maxValue := 0.0
	for _, d := range c.days {
		sum := 0.0
		for _, v := range c.segments(d) {
			sum += v
		}
		maxValue = max(maxValue, sum)
	}
	top, step := niceScale(maxValue)
	baseline := chartTop + plotHeight
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := tidy(float64(i) * step)
		y := baseline - v/top*plotHeight
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, chartLeft, y, chartWidth-chartRight, y)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y+4, template.HTMLEscapeString(c.tick(v)))
	}
	slot := plotWidth / float64(max(n, 1))
	gap := min(slot*0.2, 4)
	for i, d := range c.days {
		x := chartLeft + float64(i)*slot + gap/2
		c.bar(&b, d, x, slot-gap, top)
	}
	for i, label := range dayLabels(c.days) {
		if label != "" {
			fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
				chartLeft+(float64(i)+0.5)*slot, chartHeight-6, label)
		}
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, chartLeft, baseline, chartWidth-chartRight, baseline)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bar draws the bar of one day at x, width wide, on a y axis up to top.
func (c *barChart) bar(b *strings.Builder, d reportstore.DaySummary, x, width, top float64) {
	if d.Sessions() == 0 {
		return
	}
	link := ""
	if c.href != nil {
		link = c.href(d.Day)
	}
	if link != "" {
		fmt.Fprintf(b, `<a href="%s">`, template.HTMLEscapeString(link))
	}
	fmt.Fprintf(b, `<g><title>%s</title>`, template.HTMLEscapeString(c.tip(d)))
	y := chartTop + plotHeight
	for j, v := range c.segments(d) {
		if v <= 0 {
			continue
		}
		h := max(v/top*plotHeight, minBarHeight)
		y -= h
		fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, c.classes[j], x, y, width, h)
	}
	b.WriteString(`</g>`)
	if link != "" {
		b.WriteString(`</a>`)
	}
}

// sessionsChart draws the successful and failed sessions of each day,
// failures at the bottom where small numbers stay visible.
func sessionsChart(days []reportstore.DaySummary, href func(string) string) template.HTML {
	c := &barChart{
		label: "Sessions per day: failed (red) and successful (green)",
		days:  days,
		segments: func(d reportstore.DaySummary) []float64 {
			return []float64{float64(d.Failed), float64(d.Successful)}
		},
		classes: []string{"bar-failed", "bar-ok"},
		tick:    compactNumber,
		tip: func(d reportstore.DaySummary) string {
			return fmt.Sprintf("%s: %s successful, %s failed (%s success) in %s report(s)", d.Day,
				formatCount(d.Successful), formatCount(d.Failed), percent(d.SuccessRate()), formatCount(int64(d.Reports)))
		},
		href: href,
	}
	return c.render()
}

// failureRateChart draws the share of failed sessions of each day.
func failureRateChart(days []reportstore.DaySummary, href func(string) string) template.HTML {
	c := &barChart{
		label: "Failed sessions per day, in percent of all sessions",
		days:  days,
		segments: func(d reportstore.DaySummary) []float64 {
			return []float64{100 * (1 - d.SuccessRate())}
		},
		classes: []string{"bar-failed"},
		tick:    func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" },
		tip: func(d reportstore.DaySummary) string {
			return fmt.Sprintf("%s: %s of %s sessions failed", d.Day, percent(1-d.SuccessRate()), formatCount(d.Sessions()))
		},
		href: href,
	}
	return c.render()
}

// niceScale returns the top of a y axis that holds maxValue and the step
// between its ticks: 1, 2 or 5 times a power of ten, about yTicks steps.
func niceScale(maxValue float64) (top, step float64) {
	if maxValue <= 0 {
		return 1, 1
	}
	raw := maxValue / yTicks
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	step = tidy(step)
	return tidy(math.Ceil(maxValue/step) * step), step
}

// tidy rounds away the noise of float arithmetic (0.1 × 3 is not 0.3).
func tidy(v float64) float64 {
	t, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 9, 64), 64)
	return t
}

// dayLabels returns the label under each day, "" for most: about seven
// evenly spaced dates (the latest day included) over two months or less,
// else the first day of each month.
func dayLabels(days []reportstore.DaySummary) []string {
	labels := make([]string, len(days))
	n := len(days)
	if n > 62 {
		for i, d := range days {
			t, err := time.Parse(time.DateOnly, d.Day)
			if err != nil || t.Day() != 1 {
				continue
			}
			labels[i] = t.Format("Jan")
			if t.Month() == time.January {
				labels[i] = t.Format("Jan 2006")
			}
		}
		return labels
	}
	every := max(1, (n+6)/7)
	for i := n - 1; i >= 0; i -= every {
		if t, err := time.Parse(time.DateOnly, days[i].Day); err == nil {
			labels[i] = t.Format("Jan 2")
		}
	}
	return labels
}

// Geometry of a sparkline.
const (
	sparkWidth, sparkHeight = 120.0, 28.0
	sparkPad                = 3.0
)

// sparkline draws the daily success rate of days (one per day of the
// period, as dailySeries returns them) as a small line. The scale runs
// from a round percentage below the lowest rate to 100 %, so that dips
// show; days without sessions are left out.
func sparkline(days []reportstore.DaySummary) template.HTML {
	lowest := 1.0
	var idx []int
	for i, d := range days {
		if d.Sessions() > 0 {
			idx = append(idx, i)
			lowest = min(lowest, d.SuccessRate())
		}
	}
	if len(idx) == 0 {
		return ""
	}
	floor := min(0.95, math.Floor(lowest*20)/20)
	xOf := func(i int) float64 {
		if len(days) == 1 {
			return sparkWidth / 2
		}
		return sparkPad + float64(i)/float64(len(days)-1)*(sparkWidth-2*sparkPad)
	}
	yOf := func(rate float64) float64 {
		return sparkPad + (1-rate)/(1-floor)*(sparkHeight-2*sparkPad)
	}
	var points []string
	for _, i := range idx {
		points = append(points, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(days[i].SuccessRate())))
	}
	last := days[idx[len(idx)-1]]
	class := "spark"
	if last.SuccessRate() < 0.99 {
		class += " spark-bad"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="%s" viewBox="0 0 %g %g" role="img" aria-label="%s">`, class, sparkWidth, sparkHeight,
		template.HTMLEscapeString(fmt.Sprintf("Daily success rate over %d days with reports: lowest %s, latest %s (%s); scale %s to 100%%",
			len(idx), percent(lowest), percent(last.SuccessRate()), last.Day, percent(floor))))
	fmt.Fprintf(&b, `<line class="spark-top" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, sparkPad, sparkPad, sparkWidth-sparkPad, sparkPad)
	fmt.Fprintf(&b, `<polyline points="%s"/>`, strings.Join(points, " "))
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2"/>`, xOf(idx[len(idx)-1]), yOf(last.SuccessRate()))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
