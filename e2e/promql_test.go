package e2e

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// promqlRefs returns the metric names and the label names a PromQL
// expression (with Grafana's $variables) refers to. It is a scanner, not a
// parser: enough for the dashboard's queries, and tested below.
func promqlRefs(expr string) (metrics, labels []string) {
	ms, ls := map[string]bool{}, map[string]bool{}
	s := expr
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			i++
		}
	}
	skipString := func() {
		q := s[i]
		for i++; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && q != '`' {
				i++
			}
		}
		i++
	}
	ident := func() string {
		start := i
		for i < len(s) && isIdentChar(s[i], i > start) {
			i++
		}
		return s[start:i]
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			skipString()
		case c == '$': // a Grafana variable: $job, ${job}, $__rate_interval
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			} else {
				ident()
			}
		case c == '[': // a range or subquery duration
			for i < len(s) && s[i] != ']' {
				i++
			}
			i++
		case c == '{': // label matchers: name op "value"
			i++
			for i < len(s) && s[i] != '}' {
				skipSpace()
				if i < len(s) && isIdentChar(s[i], false) {
					if name := ident(); name != "" {
						ls[name] = true
					}
					continue
				}
				if i < len(s) && (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
					skipString()
					continue
				}
				i++
			}
			i++
		case c >= '0' && c <= '9': // a number or a duration: 0.99, 1e3, 5m
			for i < len(s) && (isIdentChar(s[i], true) || s[i] == '.') {
				i++
			}
		case isIdentChar(c, false):
			word := ident()
			skipSpace()
			next := byte(0)
			if i < len(s) {
				next = s[i]
			}
			switch {
			case groupingKeywords[word]: // by (a, b) … : label lists
				if next == '(' {
					for i++; i < len(s) && s[i] != ')'; {
						skipSpace()
						if name := ident(); name != "" {
							ls[name] = true
						} else {
							i++
						}
					}
					i++
				}
			case promqlKeywords[word], next == '(':
				// an operator, or a function or aggregation call
			default:
				ms[word] = true
			}
		default:
			i++
		}
	}
	return sortedKeys(ms), sortedKeys(ls)
}

func isIdentChar(c byte, notFirst bool) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (notFirst && c >= '0' && c <= '9')
}

var groupingKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true, "Inf": true, "NaN": true,
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// labelValues matches Grafana's label_values(<selector>, <label>) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// variableRefs is promqlRefs for a Grafana variable query.
func variableRefs(query string) (metrics, labels []string) {
	if m := labelValues.FindStringSubmatch(query); m != nil {
		metrics, labels = promqlRefs(m[1])
		return metrics, append(labels, m[2])
	}
	return promqlRefs(query)
}

func TestPromqlRefs(t *testing.T) {
	for _, tc := range []struct {
		expr            string
		metrics, labels []string
	}{
		{
			`sum by (integration, code) (rate(otelcol_alertwebhook_requests{job=~"$job"}[$__rate_interval]))`,
			[]string{"otelcol_alertwebhook_requests"},
			[]string{"code", "integration", "job"},
		},
		{
			`histogram_quantile(0.99, sum by (le) (rate(a_bucket{job=~"$job", code!~"2.."}[5m])))`,
			[]string{"a_bucket"},
			[]string{"code", "job", "le"},
		},
		{
			`sum(rate(a{x="by (y)"}[1m])) / sum without (instance) (b) > bool 0 or on(z) c offset 5m`,
			[]string{"a", "b", "c"},
			[]string{"instance", "x", "z"},
		},
		{`count(up)`, []string{"up"}, []string{}},
		{`max(${metric}) + rate(x[$__range])`, []string{"x"}, []string{}},
	} {
		m, l := promqlRefs(tc.expr)
		assert.Equal(t, tc.metrics, m, tc.expr)
		assert.Equal(t, tc.labels, l, tc.expr)
	}
	m, l := variableRefs("label_values(otelcol_process_uptime, job)")
	assert.Equal(t, []string{"otelcol_process_uptime"}, m)
	assert.Equal(t, []string{"job"}, l)
}

// exposition is the metric names of a Prometheus text exposition, each with
// the label names its series carry.
func exposition(text string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		name := line[:end]
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if line[end] == '{' {
			for _, m := range exposedLabel.FindAllStringSubmatch(line[end:strings.LastIndex(line, "}")+1], -1) {
				out[name][m[1]] = true
			}
		}
	}
	return out
}

var exposedLabel = regexp.MustCompile(`[{,]([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
