package mnist

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/qat-go/qat/data"
)

//go:embed data/*.gz
var embedded embed.FS

// The file names of the MNIST distribution, in the embedded data folder and in
// the folder given to LoadDir.
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

const (
	// Classes is the number of digit classes, the width of the one-hot Y.
	Classes = 10

	imagesMagic = 0x00000803 // idx3: unsigned bytes, 3 dimensions
	labelsMagic = 0x00000801 // idx1: unsigned bytes, 1 dimension
	// maxBytes bounds the data a header may announce (MNIST's largest file
	// holds 47 MB). The buffer for the data grows only as bytes arrive, so a
	// count larger than the file gives an error, not a huge allocation.
	maxBytes = 1 << 30
)

// Load returns the embedded MNIST training (60000 examples) and test (10000
// examples) sets. X has shape [N, 28, 28, 1] (NHWC) with pixel/255 in [0, 1];
// Y is one-hot of shape [N, 10].
func Load() (train, test data.Dataset, err error) {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		return data.Dataset{}, data.Dataset{}, fmt.Errorf("mnist: embedded data: %w", err)
	}
	return load(sub, func(name string) string { return "embedded " + name })
}

// LoadDir is Load for a folder holding the four gzipped idx files of the MNIST
// distribution under their usual names (TrainImagesFile and so on).
func LoadDir(dir string) (train, test data.Dataset, err error) {
	info, err := os.Stat(dir)
	if err != nil {
		return data.Dataset{}, data.Dataset{}, fmt.Errorf("mnist: data folder: %w", err)
	}
	if !info.IsDir() {
		return data.Dataset{}, data.Dataset{}, fmt.Errorf("mnist: data folder %s is not a folder", dir)
	}
	return load(os.DirFS(dir), func(name string) string { return filepath.Join(dir, name) })
}

// load reads the four files from fsys; where names a file in error messages.
func load(fsys fs.FS, where func(string) string) (train, test data.Dataset, err error) {
	train, err = loadSet(fsys, TrainImagesFile, TrainLabelsFile, where)
	if err != nil {
		return data.Dataset{}, data.Dataset{}, err
	}
	test, err = loadSet(fsys, TestImagesFile, TestLabelsFile, where)
	if err != nil {
		return data.Dataset{}, data.Dataset{}, err
	}
	return train, test, nil
}

func loadSet(fsys fs.FS, imagesFile, labelsFile string, where func(string) string) (data.Dataset, error) {
	var images, labels *idx
	for _, f := range []struct {
		file  string
		magic uint32
		dst   **idx
	}{
		{imagesFile, imagesMagic, &images},
		{labelsFile, labelsMagic, &labels},
	} {
		name := where(f.file)
		r, err := fsys.Open(f.file)
		if err != nil {
			return data.Dataset{}, fmt.Errorf("mnist: %s: %w", name, err)
		}
		*f.dst, err = readIDX(name, r, f.magic)
		r.Close()
		if err != nil {
			return data.Dataset{}, err
		}
	}
	return dataset(where(imagesFile), images, where(labelsFile), labels)
}

// idx is a parsed idx file of unsigned bytes.
type idx struct {
	dims []int // dims[0] is the number of examples
	data []byte
}

// readIDX reads a gzipped idx file of unsigned bytes with the given magic
// (0x803 images: count, rows, cols; 0x801 labels: count). name is used in
// error messages.
func readIDX(name string, r io.Reader, magic uint32) (*idx, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: not a gzip file: %w", name, err)
	}
	defer zr.Close()
	var head [4]byte
	if _, err := io.ReadFull(zr, head[:]); err != nil {
		return nil, fmt.Errorf("mnist: %s: reading the magic number: %w", name, truncated(err))
	}
	if got := binary.BigEndian.Uint32(head[:]); got != magic {
		return nil, fmt.Errorf("mnist: %s: magic number %#x, want %#x", name, got, magic)
	}
	ndim := int(magic & 0xff)
	dims := make([]int, ndim)
	size := 1
	for i := range dims {
		if _, err := io.ReadFull(zr, head[:]); err != nil {
			return nil, fmt.Errorf("mnist: %s: reading dimension %d of %d: %w", name, i+1, ndim, truncated(err))
		}
		d := binary.BigEndian.Uint32(head[:])
		if d == 0 || uint64(size)*uint64(d) > maxBytes {
			return nil, fmt.Errorf("mnist: %s: dimension %d is %d: the file is corrupt or too large", name, i+1, d)
		}
		dims[i] = int(d)
		size *= int(d)
	}
	// The buffer grows with the bytes that arrive, so a header announcing
	// more items than the file holds costs no allocation of that size.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, 64<<10)))
	if n, err := buf.ReadFrom(io.LimitReader(zr, int64(size))); err != nil {
		return nil, fmt.Errorf("mnist: %s: reading %d bytes of data for shape %v: %w", name, size, dims, truncated(err))
	} else if n < int64(size) {
		return nil, fmt.Errorf("mnist: %s: reading %d bytes of data for shape %v: file is truncated: it holds %d: %w",
			name, size, dims, n, io.ErrUnexpectedEOF)
	}
	data := buf.Bytes()
	// Reading to the end checks the gzip checksum and finds trailing bytes.
	if n, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("mnist: %s: after the data: %w", name, truncated(err))
	} else if n > 0 {
		return nil, fmt.Errorf("mnist: %s: %d bytes after the data of shape %v", name, n, dims)
	}
	return &idx{dims: dims, data: data}, nil
}

// truncated turns the io.ReadFull errors of a short file into one that says so.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("file is truncated: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// dataset joins parsed images and labels into X [N, rows, cols, 1] (pixel/255)
// and one-hot Y [N, Classes].
func dataset(imagesName string, images *idx, labelsName string, labels *idx) (data.Dataset, error) {
	n := images.dims[0]
	if labels.dims[0] != n {
		return data.Dataset{}, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imagesName, n, labelsName, labels.dims[0])
	}
	rows, cols := images.dims[1], images.dims[2]
	x := make([]float32, len(images.data))
	for i, p := range images.data {
		x[i] = float32(p) / 255
	}
	y := make([]float32, n*Classes)
	for i, l := range labels.data {
		if l >= Classes {
			return data.Dataset{}, fmt.Errorf("mnist: %s: label %d of example %d is not a digit", labelsName, l, i)
		}
		y[i*Classes+int(l)] = 1
	}
	return data.Dataset{
		X: data.Array{Shape: []int64{int64(n), int64(rows), int64(cols), 1}, Data: x},
		Y: data.Array{Shape: []int64{int64(n), Classes}, Data: y},
	}, nil
}

// Labels returns the class of each example of d: the index of the largest
// entry (the first, on ties) of each row of the one-hot Y [N, classes].
func Labels(d data.Dataset) ([]int, error) {
	s := d.Y.Shape
	if len(s) != 2 || s[0] < 0 || s[1] <= 0 {
		return nil, fmt.Errorf("mnist: labels: y has shape %v, want [N, classes]", s)
	}
	n, c := int(s[0]), int(s[1])
	if int64(len(d.Y.Data)) != s[0]*s[1] {
		return nil, fmt.Errorf("mnist: labels: y has %d values, its shape %v needs %d", len(d.Y.Data), s, s[0]*s[1])
	}
	out := make([]int, n)
	for i := range out {
		row := d.Y.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out, nil
}
