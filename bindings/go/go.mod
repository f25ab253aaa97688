module github.com/libmamlpp/mamlpp-go

go 1.19
