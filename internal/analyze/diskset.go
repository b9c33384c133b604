package analyze

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
)

// A layer result read from a cache may keep its large path sets on disk:
// a layer of a million paths has 16 MB of them, which merging the image
// only looks up, a few times per cataloged file. Such a set is written,
// as it is read from the entry, to an unlinked temporary file; memory
// keeps one hash of every diskBlock (1/256 of the set), and a look-up
// reads one block of 4 KB.

const (
	// diskBlock is the number of hashes read at once by a look-up.
	diskBlock = 256
	// diskSetMin is the smallest set kept on disk.
	diskSetMin = 4 * diskBlock
)

// diskSets is the temporary file holding a result's sets on disk; it is
// closed when the last result that uses it is collected.
type diskSets struct {
	f    *os.File
	sets [4]*diskSet // in layerSets' order; nil for a set in memory
}

// diskSet is a sorted set of n hashes at off in its file.
type diskSet struct {
	f     *os.File
	off   int64
	n     int
	index []pathHash // the first hash of each block
}

func (d *diskSet) hasHash(h pathHash) bool {
	b := sort.Search(len(d.index), func(i int) bool { return comparePathHash(d.index[i], h) > 0 }) - 1
	if b < 0 {
		return false
	}
	start := b * diskBlock
	n := min(diskBlock, d.n-start)
	var buf [diskBlock * len(pathHash{})]byte
	if _, err := d.f.ReadAt(buf[:n*len(pathHash{})], d.off+int64(start*len(pathHash{}))); err != nil {
		// The file is this process's own: unreadable, the path counts
		// as absent, so lower files as present (never fewer packages).
		return false
	}
	i, j := 0, n
	for i < j {
		m := int(uint(i+j) >> 1)
		if comparePathHash(pathHash(buf[m*16:m*16+16]), h) < 0 {
			i = m + 1
		} else {
			j = m
		}
	}
	return i < n && pathHash(buf[i*16:i*16+16]) == h
}

// readSets reads the four sets that follow a layer result's JSON into r:
// small ones into memory, the others, when dir is not "", into a
// temporary file there.
func readSets(br *bufio.Reader, r *LayerResult, dir string) error {
	var ds *diskSets
	var bw *bufio.Writer
	var off int64
	for k, set := range r.layerSets() {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		if n > maxStoredSet {
			return fmt.Errorf("a set of %d paths, more than a walk keeps", n)
		}
		if dir == "" || n < diskSetMin {
			// Sized once: the count is bounded, and growing a set of a
			// million hashes by appending would allocate it five times
			// over.
			out := make(pathSet, n)
			for i := range out {
				if _, err := io.ReadFull(br, out[i][:]); err != nil {
					return err
				}
			}
			if !slices.IsSortedFunc(out, comparePathHash) {
				return errors.New("a path set is not sorted")
			}
			*set = out
			continue
		}
		if ds == nil {
			f, err := os.CreateTemp(dir, "layer-paths-*")
			if err != nil {
				return fmt.Errorf("spool a path set: %w", err)
			}
			os.Remove(f.Name()) // the open file is all that is needed
			ds = &diskSets{f: f}
			runtime.AddCleanup(r, func(f *os.File) { f.Close() }, f)
			bw = bufio.NewWriterSize(f, 64<<10)
		}
		d := &diskSet{f: ds.f, off: off, n: int(n), index: make([]pathHash, 0, (n+diskBlock-1)/diskBlock)}
		var h, prev pathHash
		for i := range d.n {
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return err
			}
			if i > 0 && comparePathHash(prev, h) > 0 {
				return errors.New("a path set is not sorted")
			}
			if i%diskBlock == 0 {
				d.index = append(d.index, h)
			}
			if _, err := bw.Write(h[:]); err != nil {
				return fmt.Errorf("spool a path set: %w", err)
			}
			prev = h
		}
		off += int64(d.n * len(pathHash{}))
		ds.sets[k] = d
	}
	if bw != nil {
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("spool a path set: %w", err)
		}
		r.disk = ds
	}
	return nil
}

// setHas reports whether set k (in layerSets' order) holds h.
func (r *LayerResult) setHas(k int, h pathHash) bool {
	if r.disk != nil && r.disk.sets[k] != nil {
		return r.disk.sets[k].hasHash(h)
	}
	switch k {
	case setWhiteouts:
		return r.Whiteouts.hasHash(h)
	case setOpaques:
		return r.Opaques.hasHash(h)
	case setDirs:
		return r.Dirs.hasHash(h)
	default:
		return r.NonDirs.hasHash(h)
	}
}

// The sets' places in layerSets.
const (
	setWhiteouts = iota
	setOpaques
	setDirs
	setNonDirs
)

// writeSet writes set k's hashes.
func (r *LayerResult) writeSet(w *bufio.Writer, k int) error {
	if r.disk != nil && r.disk.sets[k] != nil {
		d := r.disk.sets[k]
		_, err := io.Copy(w, io.NewSectionReader(d.f, d.off, int64(d.n*len(pathHash{}))))
		return err
	}
	set := *r.layerSets()[k]
	for i := range set {
		w.Write(set[i][:]) // by index: a copy of the hash would escape
	}
	return nil
}

// setLen is the number of hashes in set k.
func (r *LayerResult) setLen(k int) int {
	if r.disk != nil && r.disk.sets[k] != nil {
		return r.disk.sets[k].n
	}
	return len(*r.layerSets()[k])
}
