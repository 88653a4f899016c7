//! The vision front end: images and H.264 video in, face crops out.
