package serve_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/serve"
)

// TestModelConfigFile reads TF Serving's text-format ModelServerConfig and
// serves the two models it names, each from its own base path (one with
// its newest two versions).
func TestModelConfigFile(t *testing.T) {
	a, b := baseWith(t, 0), baseWith(t, 0, 1)
	path := filepath.Join(t.TempDir(), "models.config")
	text := fmt.Sprintf(`model_config_list {
  config { name: "a" base_path: %q model_platform: "tensorflow" }
  config { name: "b" base_path: %q model_platform: "tensorflow"
           model_version_policy { latest { num_versions: 2 } } }
}
`, a, b)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	models, err := serve.ReadModelConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(models); got != fmt.Sprintf("[{a %s 1} {b %s 2}]", a, b) {
		t.Fatalf("models %s", got)
	}
	s, err := serve.New(models, serve.Options{Session: session, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	row := nested(inputs(1, 2))
	for _, c := range []struct{ path, version string }{{"a", "1"}, {"b", "2"}, {"b/versions/1", "1"}} {
		code, res := post(t, hs.URL+"/v1/models/"+c.path+":predict", map[string]any{"instances": row})
		dir := filepath.Join(map[byte]string{'a': a, 'b': b}[c.path[0]], c.version)
		want := reference(t, dir, inputs(1, 2))
		if code != 200 || !sameBits(floats(t, res["predictions"]), want.Data) {
			t.Errorf("%s: %d %v, want %v", c.path, code, res, want.Data)
		}
	}
	if got := fmt.Sprint(s.Versions("b")); got != "[2 1]" {
		t.Errorf("b serves %s, want [2 1]", got)
	}
}

// TestModelConfigFileErrors: what cannot be served is an error naming the
// model.
func TestModelConfigFileErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"syntax", `model_config_list { config { name: "a" `, "model config"},
		{"empty", ``, "no model_config_list"},
		{"platform", `model_config_list { config { name: "a" base_path: "/x" model_platform: "pytorch" } }`, `model "a": platform "pytorch"`},
		{"policy", `model_config_list { config { name: "a" base_path: "/x" model_version_policy { all {} } } }`, `model "a": only the latest`},
		{"labels", `model_config_list { config { name: "a" base_path: "/x" version_labels { key: "stable" value: 1 } } }`, `model "a": version_labels`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "models.config")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := serve.ReadModelConfig(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	_, err := serve.New([]serve.ModelConfig{{Name: "a", BasePath: "/does/not/exist"}}, serve.Options{Logf: t.Logf})
	if err == nil || !strings.Contains(err.Error(), "model a") {
		t.Errorf("missing base path: %v", err)
	}
}
