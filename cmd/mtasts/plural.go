package main

import "strconv"

// plural writes a count with its noun: "1 report", "2 reports", "0 reports".
// The plural adds "s", which fits every noun mtasts counts.
func plural[T ~int | ~int64](n T, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(int64(n), 10) + " " + noun + "s"
}
