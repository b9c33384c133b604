package web

import (
	"context"
	"sort"
)

// Attachment is an artifact attached to an image: a manifest of its
// repository whose subject is the image (a signature, an attestation, an
// SBOM, Vigil's SBOM and OpenVEX). It is shown with its image, never as
// an image of its own.
type Attachment struct {
	Digest       string
	MediaType    string
	ArtifactType string
	Size         int64
	Annotations  map[string]string
}

// Created is when the attachment says it was made, "" when it does not.
func (a Attachment) Created() string { return a.Annotations["org.opencontainers.image.created"] }

// ByVigil reports whether Vigil attached it after a scan.
func (a Attachment) ByVigil() bool { return a.Annotations["dev.vigil.attached"] != "" }

// attachmentsOf fills in the image's attachments, noting a failure rather
// than failing the page.
func (c *console) attachmentsOf(ctx context.Context, v *imageView) {
	if c.opts.Attachments == nil {
		return
	}
	list, err := c.opts.Attachments(ctx, v.Image.Repository, v.Image.Digest)
	if err != nil {
		v.AttachmentsError = c.errNote("Attached artifacts", err)
		return
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].ArtifactType < list[j].ArtifactType })
	v.Attachments = list
}
