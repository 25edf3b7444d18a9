package serve_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qat-go/qat/internal/testutil"
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
		if code != 200 || !testutil.SameBits(floats(t, res["predictions"]), want.Data) {
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

// TestPoll: a broken version folder is reported and the version before
// stays served; a newer good one replaces it; when its folder is removed
// the server goes back to the newest version left, as TF Serving does.
func TestPoll(t *testing.T) {
	base := baseWith(t, 0)
	var logs []string
	s, err := serve.New([]serve.ModelConfig{{Name: "cnn", BasePath: base}},
		serve.Options{Session: session, Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Mkdir(filepath.Join(base, "2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "2", "saved_model.pb"), []byte("not a proto"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"10.tmp-1-2", "x", "007"} { // not versions
		if err := os.Mkdir(filepath.Join(base, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	step := func(want string) {
		t.Helper()
		if err := s.Poll(); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(s.Versions("cnn")); got != want {
			t.Errorf("versions %s, want %s; log:\n%s", got, want, strings.Join(logs, "\n"))
		}
	}
	step("[1]")
	if !strings.Contains(strings.Join(logs, "\n"), "model cnn version 2 not loaded") {
		t.Errorf("the broken version was not reported:\n%s", strings.Join(logs, "\n"))
	}
	exportRun(t, trainedRuns(t)[1], filepath.Join(base, "3"))
	step("[3]")
	if err := os.RemoveAll(filepath.Join(base, "3")); err != nil {
		t.Fatal(err)
	}
	step("[1]")
}
