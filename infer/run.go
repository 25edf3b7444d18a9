package infer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
	"github.com/qat-go/qat/models"
)

// Kind is what a model path holds.
type Kind string

// The kinds of model paths.
const (
	// RunFolder is a qat train output folder: config.yaml, weights.npz and
	// (for quantized models) ranges.npz.
	RunFolder Kind = "run"
	// SavedModel is a TensorFlow SavedModel folder (saved_model.pb).
	SavedModel Kind = "saved_model"
)

// The files of a run folder.
const (
	ConfigFile  = "config.yaml"
	WeightsFile = "weights.npz"
	RangesFile  = "ranges.npz"
)

// Detect says whether path is a run folder or a SavedModel. A path that
// does not exist, is not a folder, or holds neither is an error saying
// what it lacks.
func Detect(path string) (Kind, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("model %s does not exist", path)
		}
		return "", fmt.Errorf("model %s: %w", path, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("model %s is a file; want a run folder (with %s and %s) or a SavedModel folder (with saved_model.pb)", path, ConfigFile, WeightsFile)
	}
	if exists(filepath.Join(path, "saved_model.pb")) {
		return SavedModel, nil
	}
	cfg, w := exists(filepath.Join(path, ConfigFile)), exists(filepath.Join(path, WeightsFile))
	switch {
	case cfg && w:
		return RunFolder, nil
	case cfg:
		return "", fmt.Errorf("model %s has %s but no %s: not a finished run folder", path, ConfigFile, WeightsFile)
	case w:
		return "", fmt.Errorf("model %s has %s but no %s: not a run folder", path, WeightsFile, ConfigFile)
	}
	return "", fmt.Errorf("model %s is neither a run folder (no %s, %s) nor a SavedModel (no saved_model.pb)", path, ConfigFile, WeightsFile)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Run is a trained model read from a run folder.
type Run struct {
	Dir    string
	Config *models.Config
	Model  models.Model
	// Weights holds every model variable by name, Ranges every quantizer
	// range (empty for a float model).
	Weights, Ranges data.Weights
}

// LoadRun reads the run folder dir: the model from config.yaml, the
// trained values from weights.npz and ranges.npz (which a float run may
// lack). Errors name the file.
func LoadRun(dir string) (*Run, error) {
	if k, err := Detect(dir); err != nil {
		return nil, err
	} else if k != RunFolder {
		return nil, fmt.Errorf("%s is a SavedModel, not a run folder", dir)
	}
	cfg, err := models.LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	m, err := cfg.Model()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	w, err := data.ReadNPZ(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, err
	}
	r := map[string]data.Array{}
	if p := filepath.Join(dir, RangesFile); exists(p) {
		if r, err = data.ReadNPZ(p); err != nil {
			return nil, err
		}
	}
	return &Run{Dir: dir, Config: cfg, Model: m, Weights: data.Weights(w), Ranges: data.Weights(r)}, nil
}
