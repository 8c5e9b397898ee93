package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sre-copilot/incident-collector/internal/testutil"
)

// The parts of the Kubernetes objects the tests read. Unknown fields are
// allowed (these are not the full API types), but a YAML error fails.
type k8sMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name     string `yaml:"name"`
				Key      string `yaml:"key"`
				Optional bool   `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sDeployment struct {
	k8sMeta `yaml:",inline"`
	Spec    struct {
		Replicas int         `yaml:"replicas"`
		Selector k8sSelector `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					RunAsUser    int   `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string `yaml:"name"`
						Items []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sManifests struct {
	configMap struct {
		k8sMeta `yaml:",inline"`
		Data    map[string]string `yaml:"data"`
	}
	secret struct {
		k8sMeta    `yaml:",inline"`
		StringData map[string]string `yaml:"stringData"`
	}
	deployment k8sDeployment
	service    struct {
		k8sMeta `yaml:",inline"`
		Spec    struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	pdb struct {
		k8sMeta `yaml:",inline"`
		Spec    struct {
			MinAvailable int         `yaml:"minAvailable"`
			Selector     k8sSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	kustomization struct {
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name    string `yaml:"name"`
			NewTag  string `yaml:"newTag"`
			NewName string `yaml:"newName"`
		} `yaml:"images"`
	}
}

const k8sDir = "deploy/kubernetes"

func loadK8s(t *testing.T) *k8sManifests {
	t.Helper()
	m := &k8sManifests{}
	for file, v := range map[string]any{
		"configmap.yaml": &m.configMap, "secret.example.yaml": &m.secret, "deployment.yaml": &m.deployment,
		"service.yaml": &m.service, "pdb.yaml": &m.pdb, "kustomization.yaml": &m.kustomization,
	} {
		decodeYAML(t, file, repoFile(t, k8sDir+"/"+file), v)
	}
	for _, o := range []struct {
		meta             k8sMeta
		apiVersion, kind string
	}{
		{m.configMap.k8sMeta, "v1", "ConfigMap"},
		{m.secret.k8sMeta, "v1", "Secret"},
		{m.deployment.k8sMeta, "apps/v1", "Deployment"},
		{m.service.k8sMeta, "v1", "Service"},
		{m.pdb.k8sMeta, "policy/v1", "PodDisruptionBudget"},
	} {
		assert.Equal(t, o.apiVersion, o.meta.APIVersion, o.kind)
		assert.Equal(t, o.kind, o.meta.Kind)
		assert.NotEmpty(t, o.meta.Metadata.Name, o.kind)
	}
	require.Len(t, m.deployment.Spec.Template.Spec.Containers, 1)
	return m
}

func (m *k8sManifests) container() *k8sContainer {
	return &m.deployment.Spec.Template.Spec.Containers[0]
}

// configPath is the --config file of the container's arguments.
func (m *k8sManifests) configPath(t *testing.T) string {
	t.Helper()
	for _, a := range m.container().Args {
		if p, ok := strings.CutPrefix(a, "--config="); ok {
			return p
		}
	}
	t.Fatal("the container has no --config=<file> argument")
	return ""
}

// collectorConfig follows the --config path through the volume mount to the
// ConfigMap key it names and returns that key's text.
func (m *k8sManifests) collectorConfig(t *testing.T) string {
	t.Helper()
	path := m.configPath(t)
	c := m.container()
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range m.deployment.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			require.Equal(t, m.configMap.Metadata.Name, v.ConfigMap.Name, "the config volume names the ConfigMap")
			key := rel
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			cfg, ok := m.configMap.Data[key]
			require.True(t, ok, "the ConfigMap has no key %q for %s", key, path)
			return cfg
		}
	}
	t.Fatalf("no ConfigMap volume is mounted where --config=%s points", path)
	return ""
}

// containerPort resolves a probe's or Service's port (a name or a number).
func (m *k8sManifests) containerPort(t *testing.T, port string) int {
	t.Helper()
	for _, p := range m.container().Ports {
		if p.Name == port || strconv.Itoa(p.ContainerPort) == port {
			return p.ContainerPort
		}
	}
	t.Fatalf("port %q is not a port of the container", port)
	return 0
}

// env is the container's environment as the Deployment sets it, Secret
// values taken from secrets (by key).
func (m *k8sManifests) env(t *testing.T, secrets map[string]string) []string {
	t.Helper()
	var env []string
	for _, e := range m.container().Env {
		switch {
		case e.Value != nil:
			env = append(env, e.Name+"="+*e.Value)
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			if v, ok := secrets[e.ValueFrom.SecretKeyRef.Key]; ok {
				env = append(env, e.Name+"="+v)
			}
		default:
			t.Fatalf("env %s: neither a value nor a Secret key", e.Name)
		}
	}
	return env
}

// The manifests parse and agree with each other, with the collector config in
// the ConfigMap, with the image (Dockerfile) and with the ocb manifest's
// version; the config passes the built collector's validation with the
// Deployment's arguments and environment.
func TestKubernetesManifests(t *testing.T) {
	m := loadK8s(t)
	d := &m.deployment
	c := m.container()
	podLabels := d.Spec.Template.Metadata.Labels

	// kustomization.yaml applies every manifest but the Secret example.
	entries, err := os.ReadDir(filepath.Join("..", k8sDir))
	require.NoError(t, err)
	var manifests []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".yaml") && n != "kustomization.yaml" && n != "secret.example.yaml" {
			manifests = append(manifests, n)
		}
	}
	assert.ElementsMatch(t, manifests, m.kustomization.Resources)

	// Selectors and names.
	assert.GreaterOrEqual(t, d.Spec.Replicas, 2, "several replicas on PostgreSQL")
	assert.NotEmpty(t, d.Spec.Selector.MatchLabels)
	for what, sel := range map[string]map[string]string{
		"Deployment selector": d.Spec.Selector.MatchLabels, "Service selector": m.service.Spec.Selector,
		"PodDisruptionBudget selector": m.pdb.Spec.Selector.MatchLabels,
	} {
		require.NotEmpty(t, sel, what)
		for k, v := range sel {
			assert.Equal(t, v, podLabels[k], "%s %s=%s must match the pod labels", what, k, v)
		}
	}
	assert.Positive(t, m.pdb.Spec.MinAvailable)
	assert.Less(t, m.pdb.Spec.MinAvailable, d.Spec.Replicas, "a PodDisruptionBudget of every replica blocks node drains")

	// Security and resources.
	sc := d.Spec.Template.Spec.SecurityContext
	require.NotNil(t, sc.RunAsNonRoot)
	assert.True(t, *sc.RunAsNonRoot)
	require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	for _, r := range []string{"cpu", "memory"} {
		assert.NotEmpty(t, c.Resources.Requests[r], "requests.%s", r)
		assert.NotEmpty(t, c.Resources.Limits[r], "limits.%s", r)
	}

	// The image: its user, its ports, its tag (the collector's version).
	dockerfile := string(repoFile(t, "Dockerfile"))
	assert.Equal(t, strconv.Itoa(sc.RunAsUser)+":"+strconv.Itoa(sc.RunAsUser), dockerfileValue(dockerfile, "USER"),
		"runAsUser is the image's user")
	exposed := strings.Fields(dockerfileValue(dockerfile, "EXPOSE"))
	for _, p := range c.Ports {
		assert.Contains(t, exposed, strconv.Itoa(p.ContainerPort), "container port %s is exposed by the image", p.Name)
	}
	version := builderVersion(t)
	name, tag, _ := strings.Cut(c.Image, ":")
	assert.Equal(t, "otelcol-incidents", name)
	assert.Equal(t, version, tag, "the image tag is dist.version of builder-config.yaml")
	require.Len(t, m.kustomization.Images, 1)
	assert.Equal(t, name, m.kustomization.Images[0].Name)
	assert.Equal(t, version, m.kustomization.Images[0].NewTag)

	// The collector config: where --config points, in the ConfigMap.
	cfg := parseShippedConfig(t, "the ConfigMap's config.yaml", m.collectorConfig(t))
	assert.Equal(t, imageConfigPath, m.configPath(t), "the ConfigMap replaces the image's default config")

	// Probes: liveness on the receiver's /health (never on the store),
	// readiness on the health_check extension's component status.
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.LivenessProbe.HTTPGet)
	assert.Equal(t, cfg.webhookPort(), m.containerPort(t, c.LivenessProbe.HTTPGet.Port))
	assert.Equal(t, cfg.healthPath(), c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	assert.Equal(t, cfg.healthPort(), m.containerPort(t, c.ReadinessProbe.HTTPGet.Port))
	assert.True(t, cfg.Extensions.HealthCheck.HTTP.Status.Enabled)
	assert.Equal(t, cfg.Extensions.HealthCheck.HTTP.Status.Path, c.ReadinessProbe.HTTPGet.Path)
	assert.Contains(t, cfg.Service.Extensions, "health_check")
	assert.Contains(t, c.Args, "--feature-gates=+extension.healthcheck.useComponentStatus",
		"the health_check extension reports component status only with its feature gate")

	// Ports: the Service's targets, the scrape annotation.
	for _, p := range m.service.Spec.Ports {
		target := m.containerPort(t, p.TargetPort)
		assert.Contains(t, []int{cfg.webhookPort(), cfg.metricsPort(), cfg.apiPort()}, target, "Service port %s", p.Name)
	}
	assert.Equal(t, strconv.Itoa(cfg.metricsPort()), d.Spec.Template.Metadata.Annotations["prometheus.io/port"])
	// The incident API is on, and the Service exposes it.
	require.NotZero(t, cfg.apiPort(), "the ConfigMap's config serves the incident API")
	apiExposed := false
	for _, p := range m.service.Spec.Ports {
		apiExposed = apiExposed || m.containerPort(t, p.TargetPort) == cfg.apiPort()
	}
	assert.True(t, apiExposed, "a Service port targets the incident API")

	// Environment: every variable the config reads without a default is set,
	// every Secret reference names the Secret and one of its keys, and every
	// Secret value is read by the config.
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			assert.Equal(t, m.secret.Metadata.Name, ref.Name, "env %s", e.Name)
			assert.Contains(t, m.secret.StringData, ref.Key, "env %s: the Secret has no key %q", e.Name, ref.Key)
			assert.Contains(t, cfg.envRefs(), e.Name, "env %s comes from the Secret but the config never reads it", e.Name)
		}
	}
	for name, hasDefault := range cfg.envRefs() {
		assert.True(t, hasDefault || set[name], "the config reads ${env:%s}, which the Deployment does not set", name)
	}

	// The built collector validates the config with the Deployment's
	// arguments (the feature gate) and environment.
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cfg.raw), 0o600))
	args := []string{"validate"}
	for _, a := range c.Args {
		args = append(args, strings.Replace(a, m.configPath(t), file, 1))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = m.env(t, m.secret.StringData)
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "otelcol-incidents %s:\n%s", strings.Join(args, " "), out)
}

// Two replicas of the Deployment's container, as processes on one
// PostgreSQL schema: both start with its arguments, environment and config,
// their probes answer 200 on the config's ports, and one alert delivered to
// both at once makes one incident.
func TestKubernetesReplicas(t *testing.T) {
	m := loadK8s(t)
	dsn := testutil.PostgresSchema(t)
	replicas := startReplicas(t, m, dsn, m.deployment.Spec.Replicas, nil)
	require.Len(t, replicas, m.deployment.Spec.Replicas)
	c := m.container()
	for _, r := range replicas {
		waitStatus(t, localURL(r.ports.local(t, m.containerPort(t, c.ReadinessProbe.HTTPGet.Port), r.cfg), c.ReadinessProbe.HTTPGet.Path), 200)
		code, body := httpGet(t, localURL(r.ports.local(t, m.containerPort(t, c.LivenessProbe.HTTPGet.Port), r.cfg), c.LivenessProbe.HTTPGet.Path))
		assert.Equal(t, 200, code, body)
	}

	body := fixture(t, "alertmanager/seed-example.json")
	var wg sync.WaitGroup
	codes := make([]int, len(replicas))
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = r.post(t, "/webhooks/prometheus/payments", body, "X-Webhook-Secret", replicaSecrets["payments-webhook-secret"]).Code
		}()
	}
	wg.Wait()
	for _, code := range codes {
		assert.Equal(t, 200, code)
	}
	db := store{driver: "postgres", dsn: dsn}.db(t)
	assert.Equal(t, 1, count(t, db, "dedup_scope = 'payments' AND project = 'payments'"), "one incident across the replicas")

	// Each replica's incident API answers with the Secret's tokens, and
	// shows what a person did on the other.
	apis := make([]*apiCollector, len(replicas))
	for i, r := range replicas {
		apis[i] = &apiCollector{collector: r.collector, api: localURL(r.ports.local(t, r.cfg.apiPort(), r.cfg), "")}
	}
	listedOn := apis[0].call(t, http.MethodGet, "/api/v1/incidents?integration=payments", replicaSecrets["api-read-token"], "")
	require.Equal(t, 200, listedOn.Code, listedOn.Raw)
	incs := listed(t, listedOn)
	require.Len(t, incs, 1)
	id := incs[0]["id"].(string)
	acked := apis[0].call(t, http.MethodPost, "/api/v1/incidents/"+id+"/acknowledge", replicaSecrets["api-write-token"], `{"by":"oncall"}`)
	require.Equal(t, 200, acked.Code, acked.Raw)
	seen := apis[len(apis)-1].call(t, http.MethodGet, "/api/v1/incidents/"+id, replicaSecrets["api-read-token"], "")
	require.Equal(t, 200, seen.Code, seen.Raw)
	assert.Equal(t, "acknowledged", seen.Body["incident"].(map[string]any)["status"])
	assert.Equal(t, 403, apis[0].call(t, http.MethodPost, "/api/v1/incidents/"+id+"/resolve", replicaSecrets["api-read-token"], `{"by":"x"}`).Code)
}

// replicaSecrets are the Secret's values in the tests that run replicas.
var replicaSecrets = map[string]string{
	"alertmanager-webhook-secret": "k8s-alertmanager-secret",
	"payments-webhook-secret":     "k8s-payments-secret",
	"grafana-webhook-secret":      "k8s-grafana-secret",
	"analysis-webhook-secret":     "k8s-analysis-secret",
	"api-read-token":              "k8s-api-read-token",
	"api-write-token":             "k8s-api-write-token",
}

// replica is one collector started as the Deployment's container.
type replica struct {
	*collector
	ports listenPorts
	cfg   shippedConfig
}

// startReplicas runs n replicas of the Deployment's container on dsn; env
// overrides the Deployment's plain values (NAME=value).
func startReplicas(t *testing.T, m *k8sManifests, dsn string, n int, env []string, flags ...string) []replica {
	t.Helper()
	bin := binary(t, "E2E_COLLECTOR_BIN", "the collector")
	raw := m.collectorConfig(t)
	cfg := parseShippedConfig(t, "the ConfigMap's config.yaml", raw)
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(raw), 0o600))
	secrets := map[string]string{"store-dsn": dsn}
	for k, v := range replicaSecrets {
		secrets[k] = v
	}
	environment := append(m.env(t, secrets), env...) // later entries win
	out := make([]replica, n)
	for i := range out {
		ports := freeListenPorts(t)
		args := []string{bin}
		for _, a := range m.container().Args {
			args = append(args, strings.Replace(a, m.configPath(t), file, 1))
		}
		args = append(append(args, ports.flags(cfg)...), flags...)
		out[i] = replica{collector: runShipped(t, args, environment, ports, false), ports: ports, cfg: cfg}
	}
	return out
}

// dockerfileValue is the argument of the Dockerfile's last instr line.
func dockerfileValue(dockerfile, instr string) string {
	var v string
	sc := bufio.NewScanner(strings.NewReader(dockerfile))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), instr+" "); ok {
			v = strings.TrimSpace(rest)
		}
	}
	return v
}

// builderVersion is dist.version of the ocb manifest.
func builderVersion(t *testing.T) string {
	t.Helper()
	var manifest struct {
		Dist struct {
			Version string `yaml:"version"`
		} `yaml:"dist"`
	}
	decodeYAML(t, "builder-config.yaml", repoFile(t, "builder-config.yaml"), &manifest)
	require.NotEmpty(t, manifest.Dist.Version)
	return manifest.Dist.Version
}
