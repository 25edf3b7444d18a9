package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns a Chromium (or Chrome) binary, or "" when there is
// none ($QAT_CHROMIUM names one explicitly).
func chromium() string {
	if p := os.Getenv("QAT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// shown is what the report shows in the browser.
type shown struct {
	Title  string `json:"title"`
	Images []struct {
		Src          string `json:"src"`
		Complete     bool   `json:"complete"`
		NaturalWidth int    `json:"naturalWidth"`
	} `json:"images"`
	Steps, LastLoss              string
	FakeQuant, FakeQuantValue    string
	Float, FloatValue, TestCount string
	LevelsUsed                   []string `json:"levelsUsed"`
}

const readPage = `(() => {
	const text = id => { const e = document.getElementById(id); return e ? e.textContent : null; };
	const val = id => { const e = document.getElementById(id); return e ? e.dataset.value : null; };
	return {
		title: document.title,
		images: Array.from(document.images).map(i => ({src: i.getAttribute("src"), complete: i.complete, naturalWidth: i.naturalWidth})),
		Steps: text("steps"), LastLoss: text("last-loss"),
		FakeQuant: text("fake-quant-accuracy"), FakeQuantValue: val("fake-quant-accuracy"),
		Float: text("float-accuracy"), FloatValue: val("float-accuracy"), TestCount: text("test-examples"),
		levelsUsed: Array.from(document.querySelectorAll("td.levels-used")).map(e => e.textContent),
	};
})()`

// The report of a real (short) MNIST QAT run, opened in headless
// Chromium over HTTP: it loads, every image is decoded and rendered
// (naturalWidth > 0), and the figures it shows are metrics.json's
// accuracies and losses.csv's last loss.
func TestReportInBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium binary (chromium, chromium-browser, google-chrome or $QAT_CHROMIUM): Debian's `apt-get install -y chromium` provides one; .ci/run installs it")
	}
	out := trainRun(t, "--config", "../../configs/mnist_cnn_qat8.yaml", "--steps", "20", "--log-every", "5")
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser and must not have a timeout (it
	// would stop the browser); the go test timeout bounds it.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/report.html"), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium %s: %v", bin, err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete)`)); err != nil {
		t.Fatalf("images still loading: %v", err)
	}
	got, err := chromedp.Run(tctx, chromedp.Evaluate[shown](readPage))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}

	if !strings.HasPrefix(got.Title, "qat run report") {
		t.Errorf("title %q", got.Title)
	}
	pngs, err := filepath.Glob(filepath.Join(out, "report", "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	// loss, the epoch's loss and accuracy (history.csv), 9 quantizers'
	// ranges, 4 layers' weights.
	if len(got.Images) != len(pngs) || len(pngs) != 16 {
		t.Errorf("%d images on the page, %d PNGs in %s/report; want 16 of each", len(got.Images), len(pngs), out)
	}
	for _, img := range got.Images {
		if !img.Complete || img.NaturalWidth <= 0 {
			t.Errorf("image %s not rendered (complete %v, naturalWidth %d)", img.Src, img.Complete, img.NaturalWidth)
		}
	}

	var m metrics
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, text, value string
		want              float64
	}{{"fake-quant accuracy", got.FakeQuant, got.FakeQuantValue, m.FakeQuantAccuracy}, {"float accuracy", got.Float, got.FloatValue, m.FloatAccuracy}} {
		v, err := strconv.ParseFloat(c.value, 64)
		if err != nil || v != c.want || c.text != fmt.Sprintf("%.2f%%", 100*c.want) {
			t.Errorf("%s shown as %q (data-value %q), metrics.json has %v", c.what, c.text, c.value, c.want)
		}
	}
	if got.TestCount != strconv.Itoa(m.TestExamples) || m.TestExamples != 10000 {
		t.Errorf("test examples shown as %q, metrics.json has %d", got.TestCount, m.TestExamples)
	}
	losses := readLosses(t, filepath.Join(out, "losses.csv"))
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "losses.csv"))), "\n")
	last := lines[len(lines)-1][strings.IndexByte(lines[len(lines)-1], ',')+1:]
	if got.Steps != strconv.Itoa(len(losses)) || got.LastLoss != last || len(losses) != 20 {
		t.Errorf("shown: %s steps, last loss %q; losses.csv has %d steps, the last loss %q", got.Steps, got.LastLoss, len(losses), last)
	}
	if len(got.LevelsUsed) != 4 {
		t.Errorf("levels used shown for %d layers, want 4 (c1, c2, d1, d)", len(got.LevelsUsed))
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
