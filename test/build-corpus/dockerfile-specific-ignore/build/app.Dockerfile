FROM berth-corpus/busybox:1
COPY . /ctx/
