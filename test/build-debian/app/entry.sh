#!/bin/bash
echo "app on $(. /etc/os-release && echo "$PRETTY_NAME")"
