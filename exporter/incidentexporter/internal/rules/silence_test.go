package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSilenceCompile(t *testing.T) {
	ok := []Matcher{{Name: "service", Value: "api", Op: MatchEqual}}
	tests := []struct {
		name    string
		silence Silence
		want    string // a problem it must name; "" for none
	}{
		{"valid", Silence{Matchers: ok, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, ""},
		{"no matchers", Silence{StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "matchers: at least one is required"},
		{"no name", Silence{Matchers: []Matcher{{Value: "x", Op: "="}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "matchers[0].name: required"},
		{"unknown op", Silence{Matchers: []Matcher{{Name: "a", Value: "x", Op: "=="}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, `matchers[0].op: "==" is not one of`},
		{"bad regex", Silence{Matchers: []Matcher{{Name: "a", Value: "(", Op: "=~"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "matchers[0].value: not a valid RE2"},
		{"matches everything", Silence{Matchers: []Matcher{{Name: "a", Value: ".*", Op: "=~"}, {Name: "b", Value: "x", Op: "!="}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "must not match the empty string"},
		{"empty equality", Silence{Matchers: []Matcher{{Name: "a", Value: "", Op: "="}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "must not match the empty string"},
		{"no end", Silence{Matchers: ok, StartsAt: t0}, "ends_at: required"},
		{"end before start", Silence{Matchers: ok, StartsAt: t0, EndsAt: t0}, "ends_at: must be after starts_at"},
		{"longer than 90 days", Silence{Matchers: ok, StartsAt: t0, EndsAt: t0.Add(MaxSilenceLength + time.Second)}, "at most 90 days"},
		{"exactly 90 days", Silence{Matchers: ok, StartsAt: t0, EndsAt: t0.Add(MaxSilenceLength)}, ""},
		{"a regex that would undo the anchors", Silence{Matchers: []Matcher{{Name: "service", Value: "zzz)|(api", Op: "=~"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "not a valid RE2"},
		{"too many matchers", Silence{Matchers: make([]Matcher, MaxMatchers+1), StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "matchers: 17, more than 16"},
		{"a long regex", Silence{Matchers: []Matcher{{Name: "a", Value: strings.Repeat("x", MaxRegexpLength+1), Op: "=~"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "a regular expression is at most 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := tt.silence.Compile()
			if tt.want == "" {
				assert.Empty(t, problems)
				return
			}
			assert.Contains(t, strings.Join(problems, "\n"), tt.want)
		})
	}
}

// Alertmanager's semantics: every matcher matches; a missing label is the
// empty string; regular expressions match the whole value.
func TestSilenceMatches(t *testing.T) {
	labels := map[string]string{"service": "api", "env": "prod", "instance": "gw-1:8080"}
	tests := []struct {
		name     string
		matchers []Matcher
		want     bool
	}{
		{"equal", []Matcher{{"service", "api", "=", nil}}, true},
		{"equal, other value", []Matcher{{"service", "web", "=", nil}}, false},
		{"not equal", []Matcher{{"service", "web", "!=", nil}}, true},
		{"not equal on a missing label", []Matcher{{"team", "x", "!=", nil}}, true},
		{"regex is anchored", []Matcher{{"instance", "gw-1", "=~", nil}}, false},
		{"regex whole value", []Matcher{{"instance", "gw-[0-9]+:.*", "=~", nil}}, true},
		{"regex alternatives anchored", []Matcher{{"service", "ap|web", "=~", nil}}, false},
		{"not regex", []Matcher{{"env", "stag.*", "!~", nil}}, true},
		{"missing label matches empty regex", []Matcher{{"team", "", "=~", nil}, {"service", "api", "=", nil}}, true},
		{"every matcher must match", []Matcher{{"service", "api", "=", nil}, {"env", "staging", "=", nil}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Silence{Matchers: tt.matchers, StartsAt: t0, EndsAt: t0.Add(time.Hour)}
			s.Compile() // prepares the expressions; its complaints are another test's
			assert.Equal(t, tt.want, s.Matches("prod", labels))
		})
	}
}

// An alert is checked only against the silences that can match it, and the
// index finds the same silence a full check would.
func TestSilencesIndex(t *testing.T) {
	var all []Silence
	for i := range 1000 {
		all = append(all, Silence{ID: "s" + strings.Repeat("x", i%7), Matchers: []Matcher{{Name: "service", Value: "svc-" + string(rune('a'+i%26)), Op: "="}}, StartsAt: t0, EndsAt: t0.Add(time.Duration(i+1) * time.Minute)})
	}
	all = append(all, Silence{ID: "regex", Matchers: []Matcher{{Name: "alertname", Value: "Disk.*", Op: "=~"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)})
	for i := range all {
		all[i].Compile()
	}
	idx := NewSilences(all)
	at := t0.Add(30 * time.Second)
	got := idx.Holding("prod", `{"service":"svc-c","alertname":"HighLatency"}`, at, "")
	if assert.NotNil(t, got) {
		assert.Equal(t, "svc-c", got.Matchers[0].Value)
		for i := range all {
			if all[i].Matches("prod", map[string]string{"service": "svc-c", "alertname": "HighLatency"}) {
				assert.False(t, all[i].EndsAt.After(got.EndsAt), "the one that ends last holds it")
			}
		}
	}
	assert.Equal(t, "regex", idx.Holding("prod", `{"alertname":"DiskFull"}`, at, "").ID)
	assert.Nil(t, idx.Holding("prod", `{"service":"none"}`, at, ""))
	assert.Nil(t, idx.Holding("prod", `not json`, at, ""))
	var none *Silences
	assert.Nil(t, none.Holding("prod", `{"service":"svc-c"}`, at, ""))
}
