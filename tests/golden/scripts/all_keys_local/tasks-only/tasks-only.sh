#!/bin/bash

./a.out
