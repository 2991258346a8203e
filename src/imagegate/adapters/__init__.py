"""What the ports are made of: databases, storage, libvips, the network."""
