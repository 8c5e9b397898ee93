package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
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

// Bounds of silences: nothing stays silenced for long, and checking a new
// alert against them all costs little (they are checked on the write path).
const (
	MaxSilenceLength = 90 * 24 * time.Hour
	// MaxMatchers per silence.
	MaxMatchers = 16
	// MaxRegexpLength bounds a regular expression, MaxValueLength any value.
	MaxRegexpLength = 256
	// MaxRegexpProgram bounds a regular expression's compiled program: its
	// matching time is the value's length times that, at worst ("(.*a){20}"
	// is 104 instructions).
	MaxRegexpProgram = 128
	MaxValueLength   = 1024
	// MaxActiveRegexps bounds the regular expressions of every silence that
	// has not ended: an alert is checked against those of the silences
	// without an equality matcher, each time it would open an incident.
	MaxActiveRegexps = 250
	// MaxActiveSilences bounds the silences that have not ended.
	MaxActiveSilences = 10000
)

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
	// cheapFirst is the matchers' order of evaluation: comparisons before
	// regular expressions, so that a failing one stops the costly ones.
	cheapFirst []*Matcher
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
	switch n := len(s.Matchers); {
	case n == 0:
		problems = append(problems, "matchers: at least one is required")
	case n > MaxMatchers:
		problems = append(problems, fmt.Sprintf("matchers: %d, more than %d", n, MaxMatchers))
	}
	matchesEmpty := true
	s.cheapFirst = s.cheapFirst[:0]
	for i := range s.Matchers {
		m := &s.Matchers[i]
		if problem := m.compile(); problem != "" {
			problems = append(problems, fmt.Sprintf("matchers[%d]%s", i, problem))
			continue
		}
		if m.re == nil {
			s.cheapFirst = append(s.cheapFirst, m)
		}
		if !m.matches("") {
			matchesEmpty = false
		}
	}
	for i := range s.Matchers {
		if m := &s.Matchers[i]; m.re != nil {
			s.cheapFirst = append(s.cheapFirst, m)
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

// compile checks a matcher and prepares its regular expression; it says
// what is wrong after the matcher's place (".op: …"), or "".
func (m *Matcher) compile() string {
	m.re = nil
	switch {
	case m.Name == "":
		return ".name: required"
	case len(m.Name) > MaxValueLength || len(m.Value) > MaxValueLength:
		return fmt.Sprintf(": a name or value is at most %d bytes", MaxValueLength)
	case strings.ContainsRune(m.Name+m.Value, 0):
		return ": must not contain NUL characters"
	}
	switch m.Op {
	case MatchEqual, MatchNotEqual:
		return ""
	case MatchRegexp, MatchNotRegexp:
	default:
		return fmt.Sprintf(".op: %q is not one of =, !=, =~, !~", m.Op)
	}
	if len(m.Value) > MaxRegexpLength {
		return fmt.Sprintf(".value: a regular expression is at most %d bytes", MaxRegexpLength)
	}
	// It must stand alone: "a)|(b" would otherwise undo the anchors.
	size, err := programSize(m.Value)
	switch {
	case err != nil:
		return fmt.Sprintf(".value: not a valid RE2 regular expression: %v", err)
	case size > MaxRegexpProgram:
		return fmt.Sprintf(".value: a regular expression this complex (%d instructions, more than %d) would slow every new alert down",
			size, MaxRegexpProgram)
	}
	// Anchored as Alertmanager anchors them: the whole value matches.
	m.re = regexp.MustCompile("^(?:" + m.Value + ")$")
	return ""
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
	order := s.cheapFirst
	if len(order) != len(s.Matchers) { // not compiled: as given
		order = make([]*Matcher, len(s.Matchers))
		for i := range s.Matchers {
			order[i] = &s.Matchers[i]
		}
	}
	for _, m := range order {
		if !m.matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

// Regexps counts the silence's regular-expression matchers.
func (s *Silence) Regexps() int {
	n := 0
	for _, m := range s.Matchers {
		if m.Op == MatchRegexp || m.Op == MatchNotRegexp {
			n++
		}
	}
	return n
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

// programSize compiles a regular expression alone and measures its program.
func programSize(expr string) (int, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}
