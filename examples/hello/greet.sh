#!/bin/sh
echo "$GREETING"
cat /app/banner
