package rules

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Checking a new alert against 1 000 active silences: through the index,
// and against each one, as a store without it would.
func BenchmarkSilencesHolding(b *testing.B) {
	var all []Silence
	for i := range 1000 {
		all = append(all, Silence{
			ID: strconv.Itoa(i), Matchers: []Matcher{{Name: "service", Value: fmt.Sprintf("svc-%d", i), Op: MatchEqual}},
			StartsAt: t0, EndsAt: t0.Add(time.Hour),
		})
	}
	for i := range all {
		all[i].Compile()
	}
	labels := `{"alertname":"HighErrorRate","service":"api-gateway","instance":"gw-1:8080"}`
	at := t0.Add(time.Minute)
	b.Run("indexed", func(b *testing.B) {
		idx := NewSilences(all)
		for b.Loop() {
			if idx.Holding("prod", labels, at, "") != nil {
				b.Fatal("matched")
			}
		}
	})
	b.Run("each", func(b *testing.B) {
		for b.Loop() {
			ls := labelValues(labels)
			for i := range all {
				if all[i].Matches("prod", ls) {
					b.Fatal("matched")
				}
			}
		}
	})
}

// The worst that the bounds allow: 1 000 regular expressions, each of the
// most complex kind allowed, in silences without an equality matcher
// (every new alert is checked against them all), against typical labels.
func BenchmarkSilencesWorstAllowed(b *testing.B) {
	pattern := "(.*a){24}" // close to MaxRegexpProgram
	if size, err := programSize(pattern); err != nil || size > MaxRegexpProgram {
		b.Fatalf("%s: %d instructions, %v", pattern, size, err)
	}
	var all []Silence
	for i := range MaxActiveRegexps / MaxMatchers {
		s := Silence{ID: strconv.Itoa(i), StartsAt: t0, EndsAt: t0.Add(time.Hour)}
		names := []string{"alertname", "service", "instance", "namespace", "pod", "job", "team"}
		for j := range MaxMatchers {
			s.Matchers = append(s.Matchers, Matcher{Name: names[j%len(names)], Value: pattern, Op: MatchNotRegexp})
		}
		s.Matchers[MaxMatchers-1] = Matcher{Name: "instance", Value: "never.*", Op: MatchRegexp}
		if problems := s.Compile(); len(problems) > 0 {
			b.Fatal(problems)
		}
		all = append(all, s)
	}
	labels := `{"alertname":"HighErrorRate","service":"checkout-api","instance":"10.12.4.201:9102","namespace":"shop",` +
		`"pod":"checkout-api-7f9c6d5b8-x2k4d","job":"kubernetes-pods","severity":"critical","team":"payments"}`
	idx := NewSilences(all)
	at := t0.Add(time.Minute)
	for b.Loop() {
		if idx.Holding("prod", labels, at, "") != nil {
			b.Fatal("matched")
		}
	}
}
