package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Silences (README, "Silences"): maintenance windows that hold the alerts
// that would open an incident, and always end. Matchers work as
// Alertmanager's.

// Matcher operators.
const (
	MatchEqual     = "="
	MatchNotEqual  = "!="
	MatchRegexp    = "=~"
	MatchNotRegexp = "!~"
)

// MaxSilenceLength bounds a silence: nothing stays silenced for long.
const MaxSilenceLength = 90 * 24 * time.Hour

// Matcher is one condition on a label; a missing label is the empty string.
type Matcher struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Op    string `json:"op"`
	re    *regexp.Regexp
}

// Silence holds, from StartsAt until EndsAt, the alerts its matchers all
// match, of one scope or (Scope "") of every scope.
type Silence struct {
	ID               string
	Matchers         []Matcher
	StartsAt, EndsAt time.Time
	Scope            string
	CreatedBy        string
	Comment          string
}

// Silence statuses, derived from the time.
const (
	SilencePending = "pending"
	SilenceActive  = "active"
	SilenceExpired = "expired"
)

// Status is the silence's status at now.
func (s *Silence) Status(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	default:
		return SilenceExpired
	}
}

// Compile checks the silence and prepares its regular expressions. It
// returns every problem, each naming the field.
func (s *Silence) Compile() []string {
	var problems []string
	if len(s.Matchers) == 0 {
		problems = append(problems, "matchers: at least one is required")
	}
	matchesEmpty := true
	for i := range s.Matchers {
		m := &s.Matchers[i]
		if m.Name == "" {
			problems = append(problems, fmt.Sprintf("matchers[%d].name: required", i))
		}
		switch m.Op {
		case MatchEqual, MatchNotEqual:
		case MatchRegexp, MatchNotRegexp:
			// Anchored as Alertmanager anchors them: the whole value matches.
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				problems = append(problems, fmt.Sprintf("matchers[%d].value: not a valid RE2 regular expression: %v", i, err))
				continue
			}
			m.re = re
		default:
			problems = append(problems, fmt.Sprintf("matchers[%d].op: %q is not one of =, !=, =~, !~", i, m.Op))
			continue
		}
		if !m.matches("") {
			matchesEmpty = false
		}
	}
	if len(s.Matchers) > 0 && matchesEmpty && len(problems) == 0 {
		problems = append(problems, "matchers: at least one must not match the empty string (a silence of everything)")
	}
	switch {
	case s.EndsAt.IsZero():
		problems = append(problems, "ends_at: required")
	case !s.EndsAt.After(s.StartsAt):
		problems = append(problems, "ends_at: must be after starts_at")
	case s.EndsAt.Sub(s.StartsAt) > MaxSilenceLength:
		problems = append(problems, "ends_at: at most 90 days after starts_at")
	}
	return problems
}

func (m *Matcher) matches(v string) bool {
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	default:
		return false
	}
}

// Matches: the silence holds an alert of scope with these labels.
func (s *Silence) Matches(scope string, labels map[string]string) bool {
	if s.Scope != "" && s.Scope != scope {
		return false
	}
	for i := range s.Matchers {
		if !s.Matchers[i].matches(labels[s.Matchers[i].Name]) {
			return false
		}
	}
	return true
}

// Silences are the silences active at a transaction's time, indexed so
// that an alert is checked only against those that can match it.
type Silences struct {
	// byLabel: silences with an equality matcher, under one of them
	// (name, value); an alert can only match those under its own labels.
	byLabel map[[2]string][]*Silence
	// rest have no equality matcher: every alert is checked against them.
	rest []*Silence
	n    int
}

// NewSilences indexes compiled silences.
func NewSilences(all []Silence) *Silences {
	idx := &Silences{byLabel: map[[2]string][]*Silence{}, n: len(all)}
	for i := range all {
		s := &all[i]
		keyed := false
		for _, m := range s.Matchers {
			if m.Op == MatchEqual && m.Value != "" {
				k := [2]string{m.Name, m.Value}
				idx.byLabel[k] = append(idx.byLabel[k], s)
				keyed = true
				break
			}
		}
		if !keyed {
			idx.rest = append(idx.rest, s)
		}
	}
	return idx
}

// Len is how many silences there are.
func (idx *Silences) Len() int {
	if idx == nil {
		return 0
	}
	return idx.n
}

// Holding is the silence, active at now, that holds an alert of scope with
// labels (a JSON object), and that is not except; nil when none does. Of
// several, the one that ends last holds it.
func (idx *Silences) Holding(scope, labels string, now time.Time, except string) *Silence {
	if idx.Len() == 0 {
		return nil
	}
	ls := labelValues(labels)
	var best *Silence
	consider := func(s *Silence) {
		if s.ID == except || s.Status(now) != SilenceActive || !s.Matches(scope, ls) {
			return
		}
		if best == nil || s.EndsAt.After(best.EndsAt) {
			best = s
		}
	}
	for name, value := range ls {
		for _, s := range idx.byLabel[[2]string{name, value}] {
			consider(s)
		}
	}
	for _, s := range idx.rest {
		consider(s)
	}
	return best
}

// labelValues reads a JSON object of labels; a value that is not a string
// (a processor may set one) is matched as its JSON text.
func labelValues(labels string) map[string]string {
	var raw map[string]any
	if err := json.Unmarshal([]byte(labels), &raw); err != nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if str, ok := v.(string); ok {
			out[k] = str
			continue
		}
		text, _ := json.Marshal(v)
		out[k] = string(text)
	}
	return out
}
