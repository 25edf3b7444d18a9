package savedmodel

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/qat-go/qat/tfgraph"
	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/variable_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// savedModel returns the serialised saved_model.pb: schema version 1 and
// one MetaGraphDef tagged "serve" with the graph (without the initializers
// that held the values), the saver, the variable collections (which
// Python's loader uses to find the variables) and the serving_default
// signature.
func (e *graph) savedModel() ([]byte, error) {
	def, err := e.graphDef()
	if err != nil {
		return nil, err
	}
	var all, trainable [][]byte
	for i, v := range e.vars {
		// The restore is the initializer: the checkpoint holds the value.
		vd := &variable_go_proto.VariableDef{
			VariableName:     v.Handle.Op.Name() + ":0",
			InitializerName:  e.assigns[i].Name(),
			InitialValueName: fmt.Sprintf("%s:%d", e.values.Op.Name(), i),
			SnapshotName:     e.reads[i].Op.Name() + ":0",
			IsResource:       true,
			Trainable:        e.trained[v.Name],
		}
		b, err := proto.Marshal(vd)
		if err != nil {
			return nil, fmt.Errorf("savedmodel: variable %s: %w", v.Name, err)
		}
		all = append(all, b)
		if vd.Trainable {
			trainable = append(trainable, b)
		}
	}
	collection := func(v [][]byte) *pb.CollectionDef {
		return &pb.CollectionDef{Kind: &pb.CollectionDef_BytesList_{BytesList: &pb.CollectionDef_BytesList{Value: v}}}
	}
	in, err := tensorInfo(e.x)
	if err != nil {
		return nil, err
	}
	out, err := tensorInfo(e.y)
	if err != nil {
		return nil, err
	}
	mg := &pb.MetaGraphDef{
		MetaInfoDef: &pb.MetaGraphDef_MetaInfoDef{Tags: []string{Tag}, TensorflowVersion: tf.Version()},
		GraphDef:    def,
		SaverDef: &pb.SaverDef{
			FilenameTensorName:        e.prefix.Op.Name() + ":0",
			SaveTensorName:            e.save.Op.Name() + ":0",
			RestoreOpName:             e.restore.Name(),
			MaxToKeep:                 5,
			KeepCheckpointEveryNHours: 10000,
			Version:                   pb.SaverDef_V2,
		},
		CollectionDef: map[string]*pb.CollectionDef{"variables": collection(all)},
		SignatureDef: map[string]*pb.SignatureDef{Signature: {
			Inputs:     map[string]*pb.TensorInfo{InputName: in},
			Outputs:    map[string]*pb.TensorInfo{OutputName: out},
			MethodName: "tensorflow/serving/predict",
		}},
	}
	if len(trainable) > 0 {
		mg.CollectionDef["trainable_variables"] = collection(trainable)
	}
	b, err := proto.Marshal(&pb.SavedModel{SavedModelSchemaVersion: 1, MetaGraphs: []*pb.MetaGraphDef{mg}})
	if err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	return b, nil
}

// graphDef returns the graph without the variables' initializers (each an
// AssignVariableOp of a Const holding the whole value): the values are in
// the checkpoint, and keeping them would double the folder's size and
// leave an op that overwrites restored values with a second copy.
func (e *graph) graphDef() (*graph_go_proto.GraphDef, error) {
	var buf bytes.Buffer
	if _, err := e.g.TF().WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("savedmodel: serialise graph: %w", err)
	}
	def := &graph_go_proto.GraphDef{}
	if err := proto.Unmarshal(buf.Bytes(), def); err != nil {
		return nil, fmt.Errorf("savedmodel: read back graph: %w", err)
	}
	drop := map[string]bool{}
	for _, v := range e.vars {
		drop[v.Initializer.Name()] = true
		if n := e.g.Node(v.Initializer); n != nil && len(n.Inputs) == 2 && n.Inputs[1].Op.Type() == "Const" {
			drop[n.Inputs[1].Op.Name()] = true
		}
	}
	kept := def.Node[:0]
	for _, n := range def.Node {
		if !drop[n.Name] {
			kept = append(kept, n)
		}
	}
	def.Node = kept
	for _, n := range def.Node {
		for _, in := range n.Input {
			if drop[strings.SplitN(strings.TrimPrefix(in, "^"), ":", 2)[0]] {
				return nil, fmt.Errorf("savedmodel: op %s uses %s, an initializer left out of the export", n.Name, in)
			}
		}
	}
	return def, nil
}

// tensorInfo describes a float32 tensor for a signature, -1 for the
// unknown batch size.
func tensorInfo(o tf.Output) (*pb.TensorInfo, error) {
	dims, err := tfgraph.ShapeOf(o)
	if err != nil {
		return nil, fmt.Errorf("savedmodel: %w", err)
	}
	shape := &tensor_shape_go_proto.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d})
	}
	return &pb.TensorInfo{
		Encoding:    &pb.TensorInfo_Name{Name: fmt.Sprintf("%s:%d", o.Op.Name(), o.Index)},
		Dtype:       types_go_proto.DataType_DT_FLOAT,
		TensorShape: shape,
	}, nil
}

// writeSynced writes data to the new file path and flushes it to disk.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("savedmodel: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("savedmodel: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	return nil
}
