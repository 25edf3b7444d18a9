package serve

import (
	"fmt"
	"os"

	config "github.com/wamuir/graft/tensorflow/serving/config_go_proto"
	"google.golang.org/protobuf/encoding/prototext"
)

// ReadModelConfig reads TF Serving's --model_config_file: a text-format
// ModelServerConfig whose model_config_list names each model's name and
// base_path. A model_version_policy of latest { num_versions: N } serves
// the newest N; other policies, version labels and a platform other than
// tensorflow are errors naming the model.
func ReadModelConfig(path string) ([]ModelConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: model config: %w", err)
	}
	var msc config.ModelServerConfig
	if err := prototext.Unmarshal(b, &msc); err != nil {
		return nil, fmt.Errorf("serve: model config %s: %w", path, err)
	}
	list := msc.GetModelConfigList().GetConfig()
	if len(list) == 0 {
		return nil, fmt.Errorf("serve: model config %s: no model_config_list with a config", path)
	}
	var out []ModelConfig
	for _, c := range list {
		if p := c.GetModelPlatform(); p != "" && p != "tensorflow" {
			return nil, fmt.Errorf("serve: model config %s: model %q: platform %q (only tensorflow)", path, c.GetName(), p)
		}
		if len(c.GetVersionLabels()) > 0 {
			return nil, fmt.Errorf("serve: model config %s: model %q: version_labels are not supported", path, c.GetName())
		}
		mc := ModelConfig{Name: c.GetName(), BasePath: c.GetBasePath(), Versions: 1}
		if pol := c.GetModelVersionPolicy(); pol != nil {
			l := pol.GetLatest()
			if l == nil {
				return nil, fmt.Errorf("serve: model config %s: model %q: only the latest version policy is supported", path, c.GetName())
			}
			mc.Versions = max(1, int(l.GetNumVersions()))
		}
		out = append(out, mc)
	}
	return out, nil
}
