package savedmodel_test

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/internal/oracle"
	"github.com/qat-go/qat/models"
	"github.com/qat-go/qat/savedmodel"
	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// sameBits counts the positions where a and b hold the same float32 bits
// and returns the largest absolute difference.
func sameBits(a, b []float32) (same int, worst float64) {
	for i := range min(len(a), len(b)) {
		if math.Float32bits(a[i]) == math.Float32bits(b[i]) {
			same++
		}
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return same, worst
}

// checkBits fails unless got and want are bit-identical, and logs the count.
func checkBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	same, worst := sameBits(got, want)
	if same != len(want) || len(got) != len(want) {
		t.Errorf("%s: %d of %d values bit-identical (got %d values; max |diff| %.3g)", what, same, len(want), len(got), worst)
		return
	}
	t.Logf("%s: %d of %d values bit-identical", what, same, len(want))
}

// checkLayout checks the files of the folder and that nothing else was
// left beside it.
func checkLayout(t *testing.T, parent, dir string) {
	t.Helper()
	var files []string
	sizes := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		files, sizes[rel] = append(files, rel), info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"saved_model.pb", "variables/variables.data-00000-of-00001", "variables/variables.index"}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("files %v, want %v", files, wantFiles)
	}
	t.Logf("saved_model.pb %d bytes, variables.data %d bytes, variables.index %d bytes",
		sizes["saved_model.pb"], sizes["variables/variables.data-00000-of-00001"], sizes["variables/variables.index"])
	if info, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	} else if info.Mode().Perm() != 0o755 {
		t.Errorf("folder mode %v, want 0755", info.Mode().Perm())
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("beside the export: %v, want only %s", names, filepath.Base(dir))
	}
}

// checkProto reads saved_model.pb and checks its structure: the tag,
// saver and signature; shared_name on every variable; no training ops and
// no assignments outside the restore; fake-quant ops exactly in quantized
// models; and no constant holding variable values.
func checkProto(t *testing.T, dir string, m models.Model, values data.Weights) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	sm := &pb.SavedModel{}
	if err := proto.Unmarshal(raw, sm); err != nil {
		t.Fatal(err)
	}
	if sm.SavedModelSchemaVersion != 1 || len(sm.MetaGraphs) != 1 {
		t.Fatalf("schema version %d with %d meta graphs, want 1 and 1", sm.SavedModelSchemaVersion, len(sm.MetaGraphs))
	}
	mg := sm.MetaGraphs[0]
	if tags := mg.GetMetaInfoDef().GetTags(); !slices.Equal(tags, []string{"serve"}) {
		t.Errorf("tags %v, want [serve]", tags)
	}
	nodes := map[string]string{}
	var vars []string
	fakeQuant, constBytes := 0, 0
	for _, n := range mg.GetGraphDef().GetNode() {
		nodes[n.Name] = n.Op
		switch {
		case n.Op == "VarHandleOp":
			vars = append(vars, n.Name)
			if s := string(n.Attr["shared_name"].GetS()); s != n.Name {
				t.Errorf("VarHandleOp %s has shared_name %q", n.Name, s)
			}
		case strings.HasPrefix(n.Op, "FakeQuant"):
			fakeQuant++
		case n.Op == "Const":
			constBytes += proto.Size(n.Attr["value"])
		case strings.HasPrefix(n.Op, "ResourceApply") || strings.HasPrefix(n.Op, "AssignAdd") ||
			strings.HasPrefix(n.Op, "AssignSub") || strings.Contains(n.Op, "Grad") || n.Op == "Placeholder" && n.Name != "x":
			t.Errorf("training op %s (%s) in the exported graph", n.Name, n.Op)
		case n.Op == "AssignVariableOp" && !strings.HasPrefix(n.Name, "save/"):
			t.Errorf("op %s assigns a variable outside the restore", n.Name)
		}
	}
	slices.Sort(vars)
	if names := values.Names(); !slices.Equal(vars, names) {
		t.Errorf("variables %v, want %v", vars, names)
	}
	if (fakeQuant > 0) != (m.Scheme != nil) {
		t.Errorf("%d FakeQuant ops in a model with scheme %v", fakeQuant, m.Scheme)
	}
	// The constants left are shapes, names and the like: a few KiB at most.
	if constBytes > 8<<10 {
		t.Errorf("constants hold %d bytes: are variable values kept in the graph?", constBytes)
	}
	t.Logf("%d ops, %d FakeQuant, %d variables, %d bytes of constants", len(nodes), fakeQuant, len(vars), constBytes)

	sd := mg.GetSaverDef()
	for _, name := range []string{sd.GetFilenameTensorName(), sd.GetSaveTensorName(), sd.GetRestoreOpName()} {
		if _, ok := nodes[strings.TrimSuffix(name, ":0")]; !ok || name == "" {
			t.Errorf("SaverDef names %q, which is not in the graph", name)
		}
	}
	if sd.GetVersion() != pb.SaverDef_V2 || !strings.HasSuffix(sd.GetFilenameTensorName(), ":0") {
		t.Errorf("SaverDef %v", sd)
	}
	sig := mg.GetSignatureDef()["serving_default"]
	if sig == nil {
		t.Fatal("no serving_default signature")
	}
	shapeOf := func(ti *pb.TensorInfo) []int64 {
		var d []int64
		for _, dim := range ti.GetTensorShape().GetDim() {
			d = append(d, dim.Size)
		}
		return d
	}
	classes := int64(m.Classes())
	if in := sig.Inputs["x"]; in == nil || !slices.Equal(shapeOf(in), append([]int64{-1}, m.Input...)) {
		t.Errorf("signature input x: %v", in)
	}
	if out := sig.Outputs["logits"]; out == nil || !slices.Equal(shapeOf(out), []int64{-1, classes}) {
		t.Errorf("signature output logits: %v", out)
	}
}

// output finds "op:0" in a loaded graph.
func output(t *testing.T, sm *tf.SavedModel, name string) tf.Output {
	t.Helper()
	op := sm.Graph.Operation(strings.TrimSuffix(name, ":0"))
	if op == nil {
		t.Fatalf("no op %s in the loaded graph", name)
	}
	return op.Output(0)
}

// checkRestored reads every variable of a loaded model (through the
// snapshots the VariableDefs name) and compares it with the exported value.
func checkRestored(t *testing.T, sm *tf.SavedModel, values data.Weights) {
	t.Helper()
	names := values.Names()
	fetch := make([]tf.Output, len(names))
	for i, n := range names {
		fetch[i] = output(t, sm, n+"/Read/ReadVariableOp:0")
	}
	res, err := sm.Session.Run(nil, fetch, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		got, err := tfgraph.Float32s(res[i])
		if err != nil {
			t.Fatal(err)
		}
		if same, _ := sameBits(got, values[n].Data); same != len(values[n].Data) || len(got) != len(values[n].Data) {
			t.Errorf("Go LoadSavedModel restored %s with %d of %d values bit-identical", n, same, len(values[n].Data))
		}
	}
}

// checkSave runs the SaverDef's save op on the loaded model to a new
// prefix: the checkpoint must come out byte for byte as exported.
func checkSave(t *testing.T, sm *tf.SavedModel, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	spb := &pb.SavedModel{}
	if err := proto.Unmarshal(raw, spb); err != nil {
		t.Fatal(err)
	}
	sd := spb.MetaGraphs[0].GetSaverDef()
	prefix := filepath.Join(t.TempDir(), "again")
	pt, err := tf.NewTensor(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Session.Run(map[tf.Output]*tf.Tensor{output(t, sm, sd.FilenameTensorName): pt},
		[]tf.Output{output(t, sm, sd.SaveTensorName)}, nil); err != nil {
		t.Fatalf("SaverDef save op: %v", err)
	}
	for _, ext := range []string{".index", ".data-00000-of-00001"} {
		a, err := os.ReadFile(filepath.Join(dir, savedmodel.VariablesPrefix+ext))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(prefix + ext)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("the loaded model's save op wrote a different %s (%d bytes, exported %d)", ext, len(b), len(a))
		}
	}
}

// checkCLI runs saved_model_cli show --all on the folder.
func checkCLI(t *testing.T, dir string, m models.Model) {
	t.Helper()
	py, err := oracle.Python()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(py), "saved_model_cli"), "show", "--all", "--dir", dir)
	if _, err := os.Stat(cmd.Path); err != nil {
		cmd = exec.Command(py, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--all", "--dir", dir)
	}
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("saved_model_cli show --all: %v\n%s", err, out)
	}
	in := "(-1"
	for _, d := range m.Input {
		in += ", " + itoa(d)
	}
	in += ")"
	for _, s := range []string{"signature_def['serving_default']", "inputs['x']", "outputs['logits']",
		"shape: " + in, "shape: (-1, " + itoa(int64(m.Classes())) + ")", "dtype: DT_FLOAT", "name: x:0", "name: logits:0"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("saved_model_cli output lacks %q:\n%s", s, out)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
