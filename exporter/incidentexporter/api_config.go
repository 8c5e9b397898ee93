package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// apiFields is APIConfig without its Unmarshal, for decoding.
type apiFields APIConfig

// Unmarshal refuses keys that neither the server nor the tokens know.
// Squashed, confighttp's ServerConfig decodes with unused keys ignored, so
// a misspelled read_tokens would otherwise drop its tokens without a word.
func (a *APIConfig) Unmarshal(conf *confmap.Conf) error {
	known := apiKeys()
	var unknown []string
	for k := range conf.ToStringMap() {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown keys %q: the api section takes read_tokens, write_tokens and the keys of a confighttp server (endpoint, tls, cors, auth…)", unknown)
	}
	return conf.Unmarshal((*apiFields)(a))
}

// apiKeys are the api section's keys: its own and the server's, read from
// their mapstructure tags, so that a new confighttp key is known at once.
func apiKeys() []string {
	return mapstructureKeys(reflect.TypeFor[APIConfig](), nil)
}

func mapstructureKeys(t reflect.Type, out []string) []string {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if strings.Contains(opts, "squash") && f.Type.Kind() == reflect.Struct {
			out = mapstructureKeys(f.Type, out)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out = append(out, name)
	}
	return out
}
