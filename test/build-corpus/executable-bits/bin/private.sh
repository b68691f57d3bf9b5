#!/bin/sh
echo private
