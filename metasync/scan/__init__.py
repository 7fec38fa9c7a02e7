"""Reading the library: walking folders incrementally, the one ExifTool process, perceptual hashes, pixel features."""
