package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtoolPath is where CI installs promtool (Debian's prometheus package).
const promtoolPath = "/usr/bin/promtool"

func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath(promtoolPath)
	if err != nil {
		t.Fatalf("promtool is required by deploy/'s tests (apt-get install prometheus): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The alerting rules parse, and each alert fires on the series that should
// raise it and on no others (silt-alerts.test.yml). That every metric they
// name is one silt exports is checked against a live agent by
// agent/TestMonitoringNamesExportedMetrics.
func TestAlertingRules(t *testing.T) {
	promtool(t, "prometheus", "check", "rules", "silt-alerts.yml")
	promtool(t, "prometheus", "test", "rules", "silt-alerts.test.yml")
}

// dashboard is the part of Grafana's dashboard model silt's dashboard
// uses; decoding rejects any other key.
type dashboard struct {
	Title         string          `json:"title"`
	UID           string          `json:"uid"`
	SchemaVersion int             `json:"schemaVersion"`
	Version       int             `json:"version"`
	Editable      bool            `json:"editable"`
	Refresh       string          `json:"refresh"`
	Time          json.RawMessage `json:"time"`
	Tags          []string        `json:"tags"`
	Description   string          `json:"description"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Label      string          `json:"label"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
			Definition string          `json:"definition"`
			IncludeAll bool            `json:"includeAll"`
			Multi      bool            `json:"multi"`
			AllValue   string          `json:"allValue"`
			Current    json.RawMessage `json:"current"`
			Refresh    int             `json:"refresh"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type        string                   `json:"type"`
		Title       string                   `json:"title"`
		ID          int                      `json:"id"`
		Collapsed   bool                     `json:"collapsed"`
		Panels      []any                    `json:"panels"`
		Description string                   `json:"description"`
		Datasource  json.RawMessage          `json:"datasource"`
		Options     json.RawMessage          `json:"options"`
		FieldConfig json.RawMessage          `json:"fieldConfig"`
		GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
		Targets     []struct {
			RefID        string          `json:"refId"`
			Expr         string          `json:"expr"`
			LegendFormat string          `json:"legendFormat"`
			Format       string          `json:"format"`
			Instant      bool            `json:"instant"`
			Datasource   json.RawMessage `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

// The Grafana dashboard decodes strictly, lays its panels on Grafana's
// 24-column grid without overlap, reads every panel from the data-source
// variable, and every query is valid PromQL once Grafana's variables are
// substituted (promtool checks them as recording rules).
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("grafana/silt-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode dashboard: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard needs a uid and a title: %q, %q", d.UID, d.Title)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off Grafana's 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps %q at (%d,%d)", p.Title, other, x, y)
				}
				taken[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if !strings.Contains(string(p.Datasource), "${datasource}") {
			t.Errorf("panel %q does not read from the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			expr := q.Expr
			for _, v := range []string{"$__rate_interval", "$__interval"} {
				expr = strings.ReplaceAll(expr, v, "5m")
			}
			for name := range vars {
				expr = strings.ReplaceAll(expr, "$"+name, ".*")
			}
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q uses a variable the dashboard does not define: %s", p.Title, q.Expr)
			}
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard:panel_%d_%s", p.ID, q.RefID), Expr: expr})
		}
	}
	if len(rules) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(rules))
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
	out, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard-queries.yml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "dashboard-queries.yml")
}
