// Package data holds what a model is trained and evaluated on, and its
// weights at rest: Dataset (features and labels: one-hot, class ids,
// targets or probabilities, as the loss takes them; see Labels), seeded
// mini-batches that resume exactly (Batcher), the article's synthetic data,
// named arrays (Array, Weights) and NumPy .npz files read within a memory
// budget (MemoryBudget, SetMemoryLimit) and written atomically. Package
// data/mnist provides the MNIST digits.
package data
