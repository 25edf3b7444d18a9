package savedmodel

import (
	"fmt"
	"os"

	tf "github.com/wamuir/graft/tensorflow"
	"github.com/wamuir/graft/tensorflow/core/framework/graph_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/tensor_shape_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	"github.com/wamuir/graft/tensorflow/core/framework/variable_go_proto"
	pb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// savedModel is the saved_model.pb message: schema version 1 and one
// MetaGraphDef tagged "serve" with the graph, the saver, the variable
// collections (which Python's loader uses to find the variables) and the
// serving_default signature.
func (e *graph) savedModel(def *graph_go_proto.GraphDef) *pb.SavedModel {
	var all, trainable [][]byte
	for _, v := range e.vars {
		node := e.g.Node(v.Initializer)
		vd := &variable_go_proto.VariableDef{
			VariableName:    v.Name + ":0",
			InitializerName: v.Initializer.Name(),
			SnapshotName:    e.reads[v.Name],
			IsResource:      true,
			Trainable:       e.trained[v.Name],
		}
		if node != nil && len(node.Inputs) > 1 {
			vd.InitialValueName = fmt.Sprintf("%s:%d", node.Inputs[1].Op.Name(), node.Inputs[1].Index)
		}
		b, _ := proto.Marshal(vd)
		all = append(all, b)
		if vd.Trainable {
			trainable = append(trainable, b)
		}
	}
	collection := func(v [][]byte) *pb.CollectionDef {
		return &pb.CollectionDef{Kind: &pb.CollectionDef_BytesList_{BytesList: &pb.CollectionDef_BytesList{Value: v}}}
	}
	dims := []*tensor_shape_go_proto.TensorShapeProto_Dim{{Size: -1}}
	for _, d := range e.input {
		dims = append(dims, &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d})
	}
	outDims, _ := e.y.Shape().ToSlice()
	outShape := &tensor_shape_go_proto.TensorShapeProto{}
	for _, d := range outDims {
		outShape.Dim = append(outShape.Dim, &tensor_shape_go_proto.TensorShapeProto_Dim{Size: d})
	}
	info := func(o tf.Output, shape *tensor_shape_go_proto.TensorShapeProto) *pb.TensorInfo {
		return &pb.TensorInfo{Encoding: &pb.TensorInfo_Name{Name: fmt.Sprintf("%s:%d", o.Op.Name(), o.Index)},
			Dtype: types_go_proto.DataType_DT_FLOAT, TensorShape: shape}
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
			Inputs:     map[string]*pb.TensorInfo{InputName: info(e.x, &tensor_shape_go_proto.TensorShapeProto{Dim: dims})},
			Outputs:    map[string]*pb.TensorInfo{OutputName: info(e.y, outShape)},
			MethodName: "tensorflow/serving/predict",
		}},
	}
	if len(trainable) > 0 {
		mg.CollectionDef["trainable_variables"] = collection(trainable)
	}
	return &pb.SavedModel{SavedModelSchemaVersion: 1, MetaGraphs: []*pb.MetaGraphDef{mg}}
}

// writeSynced writes data to path and flushes it to disk.
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

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("savedmodel: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("savedmodel: sync %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error { return syncFile(dir) }
