package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const manifestDir = "kubernetes"

// object is one decoded manifest.
type object interface {
	GetName() string
	GetNamespace() string
}

// kinds maps apiVersion and kind to a new value of the Go type the
// manifest decodes into. A manifest of any other kind fails the tests: add
// it here (with its checks) when adding it to the directory.
var kinds = map[string]func() object{
	"v1/Namespace":                           func() object { return new(corev1.Namespace) },
	"v1/ServiceAccount":                      func() object { return new(corev1.ServiceAccount) },
	"v1/Service":                             func() object { return new(corev1.Service) },
	"apps/v1/Deployment":                     func() object { return new(appsv1.Deployment) },
	"autoscaling/v2/HorizontalPodAutoscaler": func() object { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":          func() object { return new(policyv1.PodDisruptionBudget) },
}

// unmarshalStrict decodes JSON as the Kubernetes API server does in strict
// mode: field names match case-sensitively (encoding/json would take
// "clusterIp" for clusterIP, or "readinessprobe" for readinessProbe, which
// the API server rejects), and an unknown or duplicate field is an error.
func unmarshalStrict(j []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// docSeparator splits a multi-document YAML file.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// decodeManifests decodes every document of a YAML file strictly: no
// duplicate keys, no field the API type lacks, a known apiVersion/kind, and
// a name. Documents holding only comments are skipped.
func decodeManifests(data []byte) ([]object, error) {
	var out []object
	for i, doc := range docSeparator.Split(string(data), -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if string(bytes.TrimSpace(j)) == "null" {
			continue
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		newObj, ok := kinds[gvk]
		if !ok {
			return nil, fmt.Errorf("document %d: unknown apiVersion/kind %q", i, gvk)
		}
		obj := newObj()
		if err := unmarshalStrict(j, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, gvk, err)
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("document %d (%s): no metadata.name", i, gvk)
		}
		out = append(out, obj)
	}
	return out, nil
}

// cluster is everything in the manifest directory.
type cluster struct {
	files           []string // sorted, as kubectl apply -f DIR reads them
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	services        []*corev1.Service
	deployments     []*appsv1.Deployment
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	pdbs            []*policyv1.PodDisruptionBudget
	firstNamespace  string // the file that declares the first Namespace
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(manifestDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", manifestDir)
	}
	c := &cluster{files: files}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			switch o := o.(type) {
			case *corev1.Namespace:
				if c.firstNamespace == "" {
					c.firstNamespace = f
				}
				c.namespaces = append(c.namespaces, o)
			case *corev1.ServiceAccount:
				c.serviceAccounts = append(c.serviceAccounts, o)
			case *corev1.Service:
				c.services = append(c.services, o)
			case *appsv1.Deployment:
				c.deployments = append(c.deployments, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				c.hpas = append(c.hpas, o)
			case *policyv1.PodDisruptionBudget:
				c.pdbs = append(c.pdbs, o)
			}
		}
	}
	return c
}

// namespaced returns every object but the Namespaces.
func (c *cluster) namespaced() []object {
	var out []object
	for _, o := range c.serviceAccounts {
		out = append(out, o)
	}
	for _, o := range c.services {
		out = append(out, o)
	}
	for _, o := range c.deployments {
		out = append(out, o)
	}
	for _, o := range c.hpas {
		out = append(out, o)
	}
	for _, o := range c.pdbs {
		out = append(out, o)
	}
	return out
}

// agent returns the Deployment of the agents and its silt container, the one
// whose args run `silt agent`.
func (c *cluster) agent(t *testing.T) (*appsv1.Deployment, *corev1.Container, agentArgs) {
	t.Helper()
	if len(c.deployments) != 1 {
		t.Fatalf("want exactly one Deployment, got %d", len(c.deployments))
	}
	d := c.deployments[0]
	for i := range d.Spec.Template.Spec.Containers {
		ctr := &d.Spec.Template.Spec.Containers[i]
		if len(ctr.Args) > 0 && ctr.Args[0] == "agent" {
			args, err := parseAgentArgs(ctr.Args)
			if err != nil {
				t.Fatalf("Deployment %s, container %s: %v", d.Name, ctr.Name, err)
			}
			return d, ctr, args
		}
	}
	t.Fatalf("Deployment %s has no container whose args start with \"agent\"", d.Name)
	return nil, nil, nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	c := loadCluster(t)
	counts := map[string]int{
		"Namespace":               len(c.namespaces),
		"ServiceAccount":          len(c.serviceAccounts),
		"Service":                 len(c.services),
		"Deployment":              len(c.deployments),
		"HorizontalPodAutoscaler": len(c.hpas),
		"PodDisruptionBudget":     len(c.pdbs),
	}
	want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "Service": 2, "Deployment": 1, "HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s manifests, want %d", counts[k], k, n)
		}
	}
	seen := map[string]bool{}
	for _, o := range c.namespaced() {
		key := fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName())
		if seen[key] {
			t.Errorf("%s declared twice", key)
		}
		seen[key] = true
	}
}

// TestDecodeManifestsRejects shows the decoder is as strict as the tests
// rely on.
func TestDecodeManifestsRejects(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
	}{
		{"unknown kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "unknown apiVersion/kind"},
		{"wrong apiVersion", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n", "unknown apiVersion/kind"},
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n", "unknown field"},
		{"field in the wrong case", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ClusterIP: None}\n", "unknown field"},
		{"misplaced field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: a, readinessprobe: {}}]}}}\n", "unknown field"},
		{"duplicate key", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\nmetadata: {name: y}\n", "already set"},
		{"no name", "apiVersion: v1\nkind: Namespace\nmetadata: {}\n", "no metadata.name"},
		{"bad second document", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\nkind: Pod\n", "document 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeManifests([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("decodeManifests = %v, want an error containing %q", err, tc.err)
			}
		})
	}
	objs, err := decodeManifests([]byte("# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decodeManifests of one namespace between comments = %d objects, %v", len(objs), err)
	}
}

func TestManifestsNamespaces(t *testing.T) {
	c := loadCluster(t)
	declared := map[string]bool{}
	for _, ns := range c.namespaces {
		declared[ns.Name] = true
	}
	for _, o := range c.namespaced() {
		ns := o.GetNamespace()
		if ns == "" {
			t.Errorf("%T %s has no namespace: it would land in whatever namespace kubectl uses", o, o.GetName())
		} else if len(c.namespaces) > 0 && !declared[ns] {
			t.Errorf("%T %s is in namespace %q, which no manifest declares", o, o.GetName(), ns)
		}
	}
	// kubectl apply -f DIR applies files in name order: the namespace first.
	if len(c.namespaces) > 0 && c.firstNamespace != c.files[0] {
		t.Errorf("the Namespace is declared in %s, but kubectl applies %s before it", c.firstNamespace, c.files[0])
	}
}

// selects reports whether a Service-style selector selects the pod labels.
func selects(sel map[string]string, pod map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(pod))
}

// selectsLabelSelector reports whether a LabelSelector selects the pod
// labels, and is not empty (an empty one selects every pod).
func selectsLabelSelector(t *testing.T, sel *metav1.LabelSelector, pod map[string]string) bool {
	t.Helper()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return s.Matches(labels.Set(pod))
}

// containerPort resolves a Service or probe target port against a
// container's ports.
func containerPort(ctr *corev1.Container, target intstr.IntOrString, proto corev1.Protocol) (int32, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range ctr.Ports {
		pp := p.Protocol
		if pp == "" {
			pp = corev1.ProtocolTCP
		}
		if pp != proto {
			continue
		}
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func TestDeploymentWiring(t *testing.T) {
	c := loadCluster(t)
	d, ctr, args := c.agent(t)
	pod := d.Spec.Template.Labels
	spec := d.Spec.Template.Spec

	t.Run("selector matches pod labels", func(t *testing.T) {
		if !selectsLabelSelector(t, d.Spec.Selector, pod) {
			t.Errorf("Deployment %s: selector %v does not select its pod template's labels %v", d.Name, d.Spec.Selector, pod)
		}
	})
	t.Run("topology spread selects the pods", func(t *testing.T) {
		for _, tsc := range spec.TopologySpreadConstraints {
			if !selectsLabelSelector(t, tsc.LabelSelector, pod) {
				t.Errorf("topologySpreadConstraint on %s: selector %v does not select the pods, so it spreads nothing", tsc.TopologyKey, tsc.LabelSelector)
			}
		}
	})
	t.Run("replicas left to the HPA", func(t *testing.T) {
		if len(c.hpas) > 0 && d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas (%d) although an HPA scales it: every kubectl apply would reset the count", d.Name, *d.Spec.Replicas)
		}
	})
	t.Run("service account exists", func(t *testing.T) {
		if spec.ServiceAccountName == "" {
			t.Fatal("the pods run as the default ServiceAccount, not the one with the IAM role")
		}
		found := false
		for _, sa := range c.serviceAccounts {
			if sa.Name == spec.ServiceAccountName && sa.Namespace == d.Namespace {
				found = true
				if arn := sa.Annotations["eks.amazonaws.com/role-arn"]; !strings.HasPrefix(arn, "arn:aws:iam::") {
					t.Errorf("ServiceAccount %s: eks.amazonaws.com/role-arn annotation %q is not an IAM role ARN", sa.Name, arn)
				}
			}
		}
		if !found {
			t.Errorf("serviceAccountName %q: no such ServiceAccount in namespace %q", spec.ServiceAccountName, d.Namespace)
		}
	})
	t.Run("graceful shutdown time", func(t *testing.T) {
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
			t.Errorf("terminationGracePeriodSeconds = %v: the agent needs time to flush, commit and leave on SIGTERM", g)
		}
	})

	t.Run("args variables are defined", func(t *testing.T) {
		env := map[string]corev1.EnvVar{}
		for _, e := range ctr.Env {
			env[e.Name] = e
		}
		for _, a := range ctr.Args {
			for _, v := range varRefs(a) {
				if _, ok := env[v]; !ok {
					t.Errorf("arg %q uses $(%s), which the container's env does not define (Kubernetes would pass it literally)", a, v)
				}
			}
		}
		for name, path := range map[string]string{"POD_IP": "status.podIP", "POD_NAME": "metadata.name"} {
			if e, ok := env[name]; ok && (e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != path) {
				t.Errorf("env %s must come from the downward API fieldRef %s", name, path)
			}
		}
	})

	t.Run("bucket is s3", func(t *testing.T) {
		if b := args.get("bucket"); !strings.HasPrefix(b, "s3://") {
			t.Errorf("--bucket=%q: pods have no durable disk, the bucket must be object storage (s3://)", b)
		}
	})

	kafkaPort := port(t, listenerAddr(t, args.get("listen"), "PLAINTEXT"))
	saslPort := port(t, listenerAddr(t, args.get("listen"), "SASL_SSL"))
	httpPort := port(t, args.get("http"))
	gossipPort := port(t, args.get("gossip"))

	t.Run("advertised addresses", func(t *testing.T) {
		if want := "PLAINTEXT://$(POD_IP):" + kafkaPort + ",SASL_SSL://$(POD_IP):" + saslPort; args.get("advertise") != want {
			t.Errorf("--advertise=%q, want %q (clients must reach each pod directly)", args.get("advertise"), want)
		}
		if ha, ok := args["http-advertise"]; ok && ha != "$(POD_IP):"+httpPort {
			t.Errorf("--http-advertise=%q, want $(POD_IP):%s (other agents call its internal RPC there)", ha, httpPort)
		}
		if ga, ok := args["gossip-advertise"]; ok && ga != "$(POD_IP):"+gossipPort {
			t.Errorf("--gossip-advertise=%q, want $(POD_IP):%s", ga, gossipPort)
		}
		if args.get("node-name") != "$(POD_NAME)" {
			t.Errorf("--node-name=%q, want $(POD_NAME) (unique per pod)", args.get("node-name"))
		}
	})

	t.Run("listeners bind every interface", func(t *testing.T) {
		addrs := []string{args.get("http"), args.get("gossip")}
		for l := range strings.SplitSeq(args.get("listen"), ",") {
			_, addr, _ := splitListener(l)
			addrs = append(addrs, addr)
		}
		for _, a := range addrs {
			if host, _, _ := net.SplitHostPort(a); host != "" && host != "0.0.0.0" && host != "::" {
				t.Errorf("%q binds one host only; other pods and the kubelet could not reach it", a)
			}
		}
	})

	t.Run("container ports match the flags", func(t *testing.T) {
		for _, tc := range []struct {
			name, port string
			proto      corev1.Protocol
		}{
			{"kafka", kafkaPort, corev1.ProtocolTCP},
			{"kafka-sasl-ssl", saslPort, corev1.ProtocolTCP},
			{"http", httpPort, corev1.ProtocolTCP},
			{"gossip-tcp", gossipPort, corev1.ProtocolTCP},
			{"gossip-udp", gossipPort, corev1.ProtocolUDP},
		} {
			got, ok := containerPort(ctr, intstr.FromString(tc.name), tc.proto)
			if !ok || strconv.Itoa(int(got)) != tc.port {
				t.Errorf("container port %q (%s) = %d (found %v), want %s from the flags", tc.name, tc.proto, got, ok, tc.port)
			}
		}
	})

	t.Run("probes", func(t *testing.T) {
		for _, tc := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{
			{"readinessProbe", ctr.ReadinessProbe, "/readyz"},
			{"livenessProbe", ctr.LivenessProbe, "/healthz"},
		} {
			if tc.probe == nil || tc.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe on %s", tc.kind, tc.path)
				continue
			}
			if tc.probe.HTTPGet.Path != tc.path {
				t.Errorf("%s path %q, want %s", tc.kind, tc.probe.HTTPGet.Path, tc.path)
			}
			if p, ok := containerPort(ctr, tc.probe.HTTPGet.Port, corev1.ProtocolTCP); !ok || strconv.Itoa(int(p)) != httpPort {
				t.Errorf("%s port %s is not the --http port %s", tc.kind, tc.probe.HTTPGet.Port.String(), httpPort)
			}
		}
	})

	t.Run("cpu requests", func(t *testing.T) {
		for _, ct := range spec.Containers {
			if q, ok := ct.Resources.Requests[corev1.ResourceCPU]; !ok || q.IsZero() {
				t.Errorf("container %s has no CPU request: the HPA's utilization is a share of it", ct.Name)
			}
		}
	})

	t.Run("join names the headless service", func(t *testing.T) {
		join := args.get("join")
		if join == "" {
			t.Fatal("no --join: every pod would found a cluster of its own")
		}
		host, jport, err := net.SplitHostPort(join)
		if err != nil {
			t.Fatalf("--join=%q: want one host:port, the headless Service's DNS name", join)
		}
		if jport != gossipPort {
			t.Errorf("--join port %s is not the --gossip port %s", jport, gossipPort)
		}
		svcName, ok := strings.CutSuffix(host, "."+d.Namespace+".svc.cluster.local")
		if !ok || strings.Contains(svcName, ".") {
			t.Fatalf("--join host %q, want <service>.%s.svc.cluster.local", host, d.Namespace)
		}
		var svc *corev1.Service
		for _, s := range c.services {
			if s.Name == svcName && s.Namespace == d.Namespace {
				svc = s
			}
		}
		if svc == nil {
			t.Fatalf("--join names Service %q, which no manifest declares", svcName)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s: clusterIP %q, want None (headless: its name must resolve to every pod)", svc.Name, svc.Spec.ClusterIP)
		}
		if !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: publishNotReadyAddresses must be true, or starting agents cannot find each other", svc.Name)
		}
		for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
			found := false
			for _, p := range svc.Spec.Ports {
				if p.Protocol == proto && strconv.Itoa(int(p.Port)) == gossipPort {
					found = true
				}
			}
			if !found {
				t.Errorf("Service %s has no port %s/%s (memberlist needs both TCP and UDP)", svc.Name, gossipPort, proto)
			}
		}
	})
}

func TestServicesSelectAgents(t *testing.T) {
	c := loadCluster(t)
	d, ctr, _ := c.agent(t)
	for _, svc := range c.services {
		t.Run(svc.Name, func(t *testing.T) {
			if svc.Namespace != d.Namespace {
				t.Errorf("Service in namespace %q, the agents in %q", svc.Namespace, d.Namespace)
			}
			if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("selector %v does not select the agent pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
			}
			for _, p := range svc.Spec.Ports {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				if _, ok := containerPort(ctr, target, p.Protocol); !ok {
					t.Errorf("port %s (%d/%s) targets %s, which the agent container does not expose", p.Name, p.Port, p.Protocol, target.String())
				}
			}
		})
	}
	// The client-facing Service: not headless, and it has the Kafka port.
	found := false
	for _, svc := range c.services {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if got, ok := containerPort(ctr, p.TargetPort, p.Protocol); ok && got == 9092 {
				found = true
			}
		}
	}
	if !found {
		t.Error("no ClusterIP Service for clients to bootstrap from on the Kafka port")
	}
}

func TestAutoscalerAndDisruptionBudget(t *testing.T) {
	c := loadCluster(t)
	d, _, _ := c.agent(t)
	for _, h := range c.hpas {
		t.Run("hpa "+h.Name, func(t *testing.T) {
			ref := h.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name || h.Namespace != d.Namespace {
				t.Errorf("scaleTargetRef %s %s/%s (in %s), want apps/v1 Deployment %s (in %s)", ref.APIVersion, ref.Kind, ref.Name, h.Namespace, d.Name, d.Namespace)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
				t.Errorf("minReplicas %v, maxReplicas %d: want 2 <= min <= max", h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
			cpu := false
			for _, m := range h.Spec.Metrics {
				if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
					m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil {
					cpu = true
				}
			}
			if !cpu {
				t.Error("no CPU utilization metric")
			}
		})
	}
	for _, p := range c.pdbs {
		t.Run("pdb "+p.Name, func(t *testing.T) {
			if p.Namespace != d.Namespace || !selectsLabelSelector(t, p.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("selector %v (in %s) does not select the agent pods %v (in %s)", p.Spec.Selector, p.Namespace, d.Spec.Template.Labels, d.Namespace)
			}
			if p.Spec.MaxUnavailable == nil || p.Spec.MinAvailable != nil {
				t.Errorf("want maxUnavailable (and no minAvailable), which stays right as the HPA scales")
			}
		})
	}
}

// TestIAMPolicyCoversBucket checks deploy/aws/iam-policy.json grants what an
// agent does to the bucket and prefix the Deployment names, and no more.
func TestIAMPolicyCoversBucket(t *testing.T) {
	c := loadCluster(t)
	_, _, args := c.agent(t)
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(args.get("bucket"), "s3://"), "/")
	prefix = strings.Trim(prefix, "/")

	data, err := os.ReadFile(filepath.Join("aws", "iam-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	type statement struct {
		Sid       string                    `json:"Sid"`
		Effect    string                    `json:"Effect"`
		Action    json.RawMessage           `json:"Action"`
		Resource  json.RawMessage           `json:"Resource"`
		Condition map[string]map[string]any `json:"Condition"`
	}
	var policy struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}
	if err := unmarshalStrict(data, &policy); err != nil {
		t.Fatalf("iam-policy.json: %v", err)
	}
	strs := func(raw json.RawMessage) []string {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			return []string{one}
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			t.Fatalf("iam-policy.json: %s is neither a string nor a list of strings", raw)
		}
		return many
	}
	objectARN := "arn:aws:s3:::" + bucket + "/*"
	if prefix != "" {
		objectARN = "arn:aws:s3:::" + bucket + "/" + prefix + "/*"
	}
	granted := map[string][]string{} // action → resources
	for _, s := range policy.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range strs(s.Action) {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants %q: list the actions", s.Sid, a)
			}
			granted[a] = append(granted[a], strs(s.Resource)...)
		}
		if slices.Contains(strs(s.Action), "s3:ListBucket") && prefix != "" {
			like := fmt.Sprint(s.Condition["StringLike"]["s3:prefix"])
			if !strings.Contains(like, prefix+"/*") {
				t.Errorf("statement %s: s3:ListBucket should be limited to s3:prefix %q, got condition %v", s.Sid, prefix+"/*", s.Condition)
			}
		}
	}
	for action, resource := range map[string]string{
		"s3:ListBucket":   "arn:aws:s3:::" + bucket,
		"s3:GetObject":    objectARN,
		"s3:PutObject":    objectARN,
		"s3:DeleteObject": objectARN,
	} {
		if !slices.Contains(granted[action], resource) {
			t.Errorf("%s is not granted on %s (the Deployment's --bucket is s3://%s/%s); granted on %v", action, resource, bucket, prefix, granted[action])
		}
	}
}
