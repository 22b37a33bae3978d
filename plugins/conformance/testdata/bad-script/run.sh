echo "no shebang, not executable"
