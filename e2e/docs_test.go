package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/sre-copilot/incident-collector/exporter/incidentexporter"
	"github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"
)

// The component READMEs document every configuration key with its default,
// their generated parts are what mdatagen makes of metadata.yaml today, and
// the top README includes the example files rather than copies of them.

var components = []struct {
	dir     string
	factory interface{ CreateDefaultConfig() component.Config }
}{
	{"receiver/alertwebhookreceiver", alertwebhookreceiver.NewFactory()},
	{"exporter/incidentexporter", incidentexporter.NewFactory()},
}

const modulePath = "github.com/sre-copilot/incident-collector"

// configKeys walks a config struct by its mapstructure tags: the dotted key
// of every leaf, with its default when the default config has a scalar one.
// Structs of this module are walked into, slices of them as key[].field;
// the collector's own config types (confighttp, configretry, the queue) are
// one key each, documented by their own README.
func configKeys(t reflect.Type, v reflect.Value, prefix string, out map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "-" {
			continue
		}
		fv := reflect.Value{}
		if v.IsValid() {
			fv = v.Field(i)
		}
		ft, fv := deref(f.Type, fv)
		if opts == "squash" && ft.PkgPath() == confighttpPath && prefix != "" {
			// A server config squashed into a section (the exporter's api)
			// is that section's key, as a named one would be.
			out[strings.TrimSuffix(prefix, ".")] = ""
			continue
		}
		if opts == "squash" {
			configKeys(ft, fv, prefix, out)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		if et, ev, ok := optionalOf(ft, fv); ok {
			// An optional section of this module (configoptional): its keys,
			// with the defaults it takes when it is there.
			configKeys(et, ev, key+".", out)
			continue
		}
		switch {
		case ft.Kind() == reflect.Struct && strings.HasPrefix(ft.PkgPath(), modulePath):
			configKeys(ft, fv, key+".", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.String:
			et, _ := deref(ft.Elem(), reflect.Value{})
			if et.Kind() == reflect.Struct && strings.HasPrefix(et.PkgPath(), modulePath) {
				configKeys(et, reflect.Value{}, key+"[].", out)
				continue
			}
			out[key] = ""
		default:
			out[key] = formatDefault(fv)
		}
	}
}

const (
	confighttpPath     = "go.opentelemetry.io/collector/config/confighttp"
	configoptionalPath = "go.opentelemetry.io/collector/config/configoptional"
)

// optionalOf is the struct a configoptional.Optional of this module holds,
// and its default value (the zero value when it has none).
func optionalOf(t reflect.Type, v reflect.Value) (reflect.Type, reflect.Value, bool) {
	if t.Kind() != reflect.Struct || t.PkgPath() != configoptionalPath {
		return nil, reflect.Value{}, false
	}
	get, ok := reflect.PointerTo(t).MethodByName("GetOrInsertDefault")
	if !ok {
		return nil, reflect.Value{}, false
	}
	et := get.Type.Out(0).Elem()
	if et.Kind() != reflect.Struct || !strings.HasPrefix(et.PkgPath(), modulePath) {
		return nil, reflect.Value{}, false
	}
	if !v.IsValid() {
		return et, reflect.Value{}, true
	}
	// GetOrInsertDefault on a copy: the default config stays as it is.
	cp := reflect.New(t)
	cp.Elem().Set(v)
	return et, get.Func.Call([]reflect.Value{cp})[0].Elem(), true
}

func deref(t reflect.Type, v reflect.Value) (reflect.Type, reflect.Value) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		if v.IsValid() {
			if v.IsNil() {
				v = reflect.Value{}
			} else {
				v = v.Elem()
			}
		}
	}
	return t, v
}

// formatDefault writes a non-zero scalar default as the README shows it;
// "" for zero values and for what is not a scalar.
func formatDefault(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	if d, ok := v.Interface().(time.Duration); ok {
		s := d.String() // 5m0s → 5m, 24h0m0s → 24h, 10s stays
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64, reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			parts := make([]string, v.Len())
			for i := range parts {
				parts[i] = v.Index(i).String()
			}
			return "[" + strings.Join(parts, ", ") + "]"
		}
	}
	return ""
}

// configTable reads the rows `| `key` | default | description |` of the
// README's "## Configuration" section.
func configTable(t *testing.T, readme string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	in := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Configuration"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, " | ")
		require.GreaterOrEqual(t, len(cells), 3, "row %q", line)
		key := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		assert.NotContains(t, rows, key, "%s is documented twice", key)
		rows[key] = cells[1]
	}
	return rows
}

func TestComponentReadmeConfigKeys(t *testing.T) {
	for _, c := range components {
		t.Run(filepath.Base(c.dir), func(t *testing.T) {
			cfg := reflect.ValueOf(c.factory.CreateDefaultConfig())
			keys := map[string]string{}
			ct, cv := deref(cfg.Type(), cfg)
			configKeys(ct, cv, "", keys)
			rows := configTable(t, string(repoFile(t, c.dir+"/README.md")))
			var undocumented, stale []string
			for k := range keys {
				if _, ok := rows[k]; !ok {
					undocumented = append(undocumented, k)
				}
			}
			for k := range rows {
				if _, ok := keys[k]; !ok {
					stale = append(stale, k)
				}
			}
			sort.Strings(undocumented)
			sort.Strings(stale)
			assert.Empty(t, undocumented, "configuration keys missing from the README's table")
			assert.Empty(t, stale, "README rows for keys the config does not have")
			for k, def := range keys {
				if def != "" && rows[k] != "" {
					assert.Contains(t, rows[k], "`"+def+"`", "the README's default of %s", k)
				}
			}
		})
	}
}

// What mdatagen generates from metadata.yaml (the README's status table and
// documentation.md) is what is committed: mdatagen runs on copies.
func TestComponentDocsGenerated(t *testing.T) {
	mdatagen := binary(t, "E2E_MDATAGEN_BIN", "mdatagen")
	for _, c := range components {
		t.Run(filepath.Base(c.dir), func(t *testing.T) {
			module := t.TempDir()
			dir := filepath.Join(module, filepath.Base(c.dir)) // mdatagen names issue labels after the folder
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(module, "go.mod"), []byte("module example.com/docs\n\ngo 1.26\n"), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "doc.go"), []byte("package "+filepath.Base(c.dir)+"\n"), 0o600))
			for _, f := range []string{"metadata.yaml", "README.md"} {
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), repoFile(t, c.dir+"/"+f), 0o600))
			}
			cmd := exec.Command(mdatagen, "metadata.yaml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "mdatagen: %s", out)
			for _, f := range []string{"README.md", "documentation.md"} {
				generated, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				assert.Equal(t, string(generated), string(repoFile(t, c.dir+"/"+f)), "%s/%s is not what `make generate` makes of metadata.yaml", c.dir, f)
			}
			assert.Contains(t, string(repoFile(t, c.dir+"/README.md")), "| Stability ", "the README has the status table")
		})
	}
}

var (
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	tableRowKey  = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
)

// includeMarker precedes a README code block that shows a file of the checkout.
var includeMarker = regexp.MustCompile(`^<!-- file: (\S+) -->$`)

// readmeIncludes returns, for each marked block of the README, the file it
// names and the block's text.
func readmeIncludes(t *testing.T, readme string) map[string]string {
	t.Helper()
	blocks := map[string]string{}
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		m := includeMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		require.Less(t, i+1, len(lines))
		require.True(t, strings.HasPrefix(lines[i+1], "```"), "a code block must follow <!-- file: %s -->", m[1])
		var b strings.Builder
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			b.WriteString(lines[i] + "\n")
		}
		blocks[m[1]] = b.String()
	}
	return blocks
}

// The README shows every example sender config, each block equal to its
// file, links the component READMEs without repeating their tables, and its
// deployment section shows the image, the manifests and the dashboard.
func TestReadmeShowsShippedFiles(t *testing.T) {
	readme := string(repoFile(t, "README.md"))
	blocks := readmeIncludes(t, readme)
	examples, err := filepath.Glob(filepath.Join("..", "examples", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, e := range examples {
		rel := "examples/" + filepath.Base(e)
		assert.Contains(t, blocks, rel, "the README does not show %s", rel)
	}
	for file, block := range blocks {
		assert.Equal(t, string(repoFile(t, file)), block, "the README's copy of %s differs from the file: paste the file again", file)
	}
	links := map[string]bool{}
	for _, m := range markdownLink.FindAllStringSubmatch(readme, -1) {
		links[m[1]] = true
	}
	rows := map[string]bool{}
	for _, m := range tableRowKey.FindAllStringSubmatch(readme, -1) {
		rows[m[1]] = true
	}
	for _, c := range components {
		assert.Contains(t, links, c.dir+"/README.md", "the README links the component's README")
		for key := range configTable(t, string(repoFile(t, c.dir+"/README.md"))) {
			assert.NotContains(t, rows, key, "the README repeats a row of %s/README.md", c.dir)
		}
	}
	start := strings.Index(readme, "\n## Deployment\n")
	require.NotEqual(t, -1, start, "the README has no Deployment section")
	deployment := readme[start+1:]
	if end := strings.Index(deployment, "\n## "); end >= 0 {
		deployment = deployment[:end]
	}
	for _, s := range []string{"make image", "deploy/kubernetes", "deploy/grafana/incidents-dashboard.json"} {
		assert.Contains(t, deployment, s, "the Deployment section shows it")
	}
}
