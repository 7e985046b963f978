#!/bin/bash

ls /study/full 
